// Formatting numbers, sizes and times for display. Times are shown and entered in UTC, the
// zone EVE timestamps are written in, so what a person types matches what the events say.

export const SEVERITIES = [
  { level: 1, name: "High" },
  { level: 2, name: "Medium" },
  { level: 3, name: "Low" },
  { level: 4, name: "Info" },
];

export function severityName(level) {
  const found = SEVERITIES.find((s) => s.level === Number(level));
  return found ? found.name : `Severity ${level}`;
}

// The badge class of a severity; anything but 1 to 4 (a sender's mistake) gets a neutral one.
export function severityClass(level) {
  const n = Number(level);
  return SEVERITIES.some((s) => s.level === n) ? `sev sev-${n}` : "sev sev-unknown";
}

// EVE writes "+0000"; Date.parse wants "+00:00".
export function parseTime(text) {
  if (!text) return null;
  const iso = String(text).replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

export function formatTime(text, { millis = false } = {}) {
  const date = text instanceof Date ? text : parseTime(text);
  if (!date) return text ? String(text) : "—";
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return millis ? `${day} ${time}.${pad(date.getUTCMilliseconds(), 3)}` : `${day} ${time}`;
}

export function formatClock(date, withSeconds) {
  const clock = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
  return withSeconds ? `${clock}:${pad(date.getUTCSeconds())}` : clock;
}

export function formatDay(date) {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

// A bucket width: "1 s", "5 min", "2 h", "7 d".
export function formatSpan(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export function formatCount(n) {
  return Number(n || 0).toLocaleString("en-US");
}

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

export function formatBytes(n) {
  let value = Number(n || 0);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatAge(text, now = Date.now()) {
  const date = parseTime(text);
  if (!date) return "never";
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

// <input type="datetime-local"> value ("2026-11-21T20:39" or with seconds), read as UTC.
export function localInputToIso(value) {
  if (!value) return "";
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  const date = new Date(`${withSeconds}Z`);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function isoToLocalInput(text) {
  const date = parseTime(text);
  if (!date) return "";
  return date.toISOString().slice(0, 19);
}

export function endpointName(endpoint) {
  if (!endpoint || typeof endpoint !== "object") return "";
  const pod = endpoint.pod ? String(endpoint.pod) : "";
  const namespace = endpoint.namespace ? String(endpoint.namespace) : "";
  return namespace && pod ? `${namespace}/${pod}` : pod || namespace;
}

export function hostPort(ip, port) {
  if (ip === undefined || ip === null) return "—";
  const host = String(ip).includes(":") ? `[${ip}]` : String(ip);
  return port === undefined || port === null ? host : `${host}:${port}`;
}

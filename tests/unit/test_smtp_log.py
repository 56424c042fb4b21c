"""EVE smtp events: one per mail transaction (RFC 5321), with the email member from the message's
headers, however the streams are cut; PIPELINING, BDAT and STARTTLS; bounds and malformed replies
end the work with a reason, after writing the transactions still open."""

from __future__ import annotations

import random
from typing import Any

from fathom.apps.layer import AppLayer
from fathom.apps.logs.registry import PARSERS
from fathom.apps.logs.smtp import MAX_HEADER_VALUE, MAX_LINE, MAX_PENDING, MAX_RECIPIENTS, SmtpLog, comma_list
from fathom.capture.pcapfile import open_capture
from fathom.config import EngineConfig
from fathom.engine import Engine
from tests.traffic import ListSink
from tests.unit.test_ssh_log import CORPUS, Stream, capture_stream, every_cut, run

MESSAGE = (
    b"Received: from client.example.com\r\n\tby mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"From: Alice <alice@example.com>\r\n"
    b'To: "Bob, the builder" <bob@example.org>,\r\n carol@example.org\r\n'
    b"Cc: dave@example.net\r\n"
    b"Subject:  Hello\r\n"
    b"To: ignored@example.org\r\n"
    b"\r\n"
    b"Body line\r\n"
    b"..a stuffed line\r\n"
    b". not the end\r\n" + b"x" * (MAX_LINE + 100) + b"\r\n"
    b".\r\n"
)
SESSION: Stream = [
    (False, b"220 mx.example.org ESMTP ready\r\n"),
    (True, b"EHLO client.example.com\r\n"),
    (False, b"250-mx.example.org\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
    (True, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    (False, b"235 2.7.0 Authentication successful\r\n"),
    (True, b"MAIL FROM:<alice@example.com> SIZE=123\r\n"),
    (False, b"250 2.1.0 Ok\r\n"),
    (True, b"RCPT TO:<bob@example.org>\r\n"),
    (False, b"250 2.1.5 Ok\r\n"),
    (True, b"rcpt to: <carol@example.org> NOTIFY=NEVER\n"),
    (False, b"250 2.1.5 Ok\n"),
    (True, b"DATA\r\n"),
    (False, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    (True, MESSAGE),
    (False, b"250 2.0.0 Ok: queued as 12345\r\n"),
    (True, b"QUIT\r\n"),
    (False, b"221 2.0.0 Bye\r\n"),
]
SMTP = {
    "helo": "client.example.com",
    "mail_from": "<alice@example.com>",
    "rcpt_to": ["<bob@example.org>", "<carol@example.org>"],
}
EMAIL = {
    "from": "Alice <alice@example.com>",
    "to": ['"Bob, the builder" <bob@example.org>', "carol@example.org"],
    "cc": ["dave@example.net"],
    "status": "PARSE_DONE",
    "subject": "Hello",
}


def smtp(**members: Any) -> dict[str, Any]:
    return {"smtp": members}


def test_a_mail_is_logged_when_the_server_accepts_its_message() -> None:
    parser = SmtpLog()
    written = [parser.feed(to_server, data) for to_server, data in SESSION]
    assert written[14] == [{"smtp": SMTP, "email": EMAIL}]
    assert [bodies for bodies in written if bodies] == [written[14]]
    assert list(written[14][0]["email"]) == ["from", "to", "cc", "status", "subject"]
    assert parser.end() == []
    assert parser.failure is None


def test_the_event_does_not_depend_on_how_the_streams_are_cut() -> None:
    for stream in every_cut(SESSION):
        parser = SmtpLog()
        assert run(parser, stream) == [{"smtp": SMTP, "email": EMAIL}]
        assert parser.failure is None


def test_rset_ends_a_transaction_and_the_next_mail_is_another() -> None:
    stream: Stream = [
        (True, b"HELO a.example\r\nMAIL FROM:<one@a.example>\r\nRCPT TO:<x@b.example>\r\nRSET\r\n"),
        (False, b"220 hi\r\n250 hello\r\n250 ok\r\n550 no such user\r\n250 reset\r\n"),
        (True, b"MAIL FROM:<two@a.example>\r\nRCPT TO:<y@b.example>\r\nDATA\r\n"),
        (False, b"250 ok\r\n250 ok\r\n354 go\r\n"),
        (True, b"Subject: second\r\n\r\nhi\r\n.\r\n"),
        (False, b"250 queued\r\n"),
    ]
    first = smtp(helo="a.example", mail_from="<one@a.example>", rcpt_to=["<x@b.example>"])
    second = smtp(helo="a.example", mail_from="<two@a.example>", rcpt_to=["<y@b.example>"])
    second["email"] = {"status": "PARSE_DONE", "subject": "second"}
    parser = SmtpLog()
    assert [parser.feed(*chunk) for chunk in stream] == [[], [first], [], [], [], [second]]


def test_helo_within_a_transaction_resets_it_and_the_first_helo_is_kept() -> None:
    parser = SmtpLog()
    parser.feed(False, b"220 hi\r\n")
    parser.feed(True, b"EHLO first\r\nMAIL FROM:<a@b>\r\nEHLO second\r\n")
    assert parser.feed(False, b"250 hello\r\n250 ok\r\n250 hello again\r\n") == [
        smtp(helo="first", mail_from="<a@b>")
    ]
    parser.feed(True, b"MAIL FROM:<c@d>\r\n")
    assert parser.end() == [smtp(helo="first", mail_from="<c@d>")]


def test_starttls_accepted_writes_the_transaction_and_ends_the_work() -> None:
    parser = SmtpLog()
    assert parser.feed(False, b"220 hi\r\n") == []
    assert parser.feed(True, b"EHLO c\r\nSTARTTLS\r\n") == []
    assert parser.feed(False, b"250-s\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n\x16\x03") == [
        smtp(helo="c")
    ]
    assert (parser.done, parser.failure) == (True, None)
    assert parser.feed(True, b"\x16\x03\x01\x00\x05hello") == []


def test_starttls_refused_goes_on() -> None:
    parser = SmtpLog()
    parser.feed(True, b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\nQUIT\r\n")
    assert parser.feed(False, b"220 hi\r\n250 s\r\n454 TLS not available\r\n250 ok\r\n") == []
    assert parser.feed(False, b"221 bye\r\n") == [smtp(helo="c", mail_from="<a@b>")]
    assert not parser.done


PIPELINED: Stream = [
    (False, b"220 hi\r\n"),
    (True, b"EHLO c\r\n"),
    (False, b"250-s\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
    # With PIPELINING the message follows DATA at once, as Suricata reads it.
    (True, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nFrom: a@b\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
    (False, b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"),
]


def test_pipelined_commands_and_message_meet_their_replies() -> None:
    event = smtp(helo="c", mail_from="<a@b>", rcpt_to=["<c@d>"]) | {
        "email": {"from": "a@b", "status": "PARSE_DONE"}
    }
    for stream in every_cut(PIPELINED):
        parser = SmtpLog()
        assert run(parser, stream) == [event]
        assert parser.failure is None


def test_a_refused_pipelined_data_leaves_data_mode() -> None:
    parser = SmtpLog()
    for to_server, data in PIPELINED[:3]:
        parser.feed(to_server, data)
    parser.feed(True, b"MAIL FROM:<a@b>\r\nDATA\r\n")
    assert parser.feed(False, b"250 ok\r\n554 no valid recipients\r\n") == []
    parser.feed(True, b"QUIT\r\n")
    assert parser.feed(False, b"221 bye\r\n") == [
        smtp(helo="c", mail_from="<a@b>") | {"email": {"status": "PARSE_DONE"}}
    ]


BDAT: Stream = [
    (False, b"220 hi\r\n"),
    (True, b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 12\r\nHello\r\nworldBDAT 6 LAST\r\n.\r\nBye"),
    (False, b"250-s\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 12 octets\r\n250 queued\r\n"),
    (True, b"BDAT 0 LAST\r\n"),
    (False, b"250 0 octets\r\n"),
]


def test_bdat_chunks_are_counted_bytes_and_log_no_email() -> None:
    # Suricata reads no message sent with BDAT; a chunk's "." line is a byte like another.
    events = [smtp(helo="c", mail_from="<a@b>", rcpt_to=["<c@d>"]), smtp(helo="c")]
    for stream in every_cut(BDAT):
        parser = SmtpLog()
        assert run(parser, stream) == events
        assert parser.failure is None


def test_a_malformed_bdat_is_a_command_the_server_refuses() -> None:
    parser = SmtpLog()
    parser.feed(True, b"MAIL FROM:<a@b>\r\nBDAT 5LAST\r\nBDAT 99999999999\r\nQUIT\r\n")
    assert parser.feed(False, b"220 hi\r\n250 ok\r\n501 syntax\r\n501 syntax\r\n221 bye\r\n") == [
        smtp(mail_from="<a@b>")
    ]


def test_a_message_ending_in_its_headers_is_still_read() -> None:
    parser = SmtpLog()
    parser.feed(True, b"MAIL FROM:<a@b>\r\nDATA\r\n")
    parser.feed(False, b"220 hi\r\n250 ok\r\n354 go\r\n")
    parser.feed(True, b"from: x@y\r\nnot a header\r\n to be unfolded\r\n.\r\n")
    assert parser.feed(False, b"250 queued\r\n") == [
        smtp(mail_from="<a@b>") | {"email": {"from": "x@yto be unfolded", "status": "PARSE_DONE"}}
    ]


def test_the_flow_end_writes_the_open_transactions() -> None:
    parser = SmtpLog()
    parser.feed(True, b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    parser.feed(False, b"220 hi\r\n250 s\r\n250 ok\r\n250 ok\r\n354 go\r\n")
    parser.feed(True, b"To: e@f\r\n\r\nunfinished")
    assert parser.end() == [
        smtp(helo="c", mail_from="<a@b>", rcpt_to=["<c@d>"])
        | {"email": {"to": ["e@f"], "status": "PARSE_DONE"}}
    ]
    assert parser.done and parser.failure is None
    assert SmtpLog().end() == []


def test_addresses_are_split_as_suricata_splits_them() -> None:
    assert comma_list(b'"Doe, J" <j@d>, k@d,\t l@d') == ['"Doe, J" <j@d>', "k@d", "l@d"]
    assert comma_list(b" a , b ") == ["a ", "b "]
    assert comma_list(b"a,,b") == ["a", ",b"]
    assert comma_list(b"a,") == ["a"]
    assert comma_list(b"  ") == []
    assert comma_list(b"caf\xc3\xa9@x, \xff@y") == ["café@x", "\\xff@y"]


def test_a_line_is_at_most_the_bound_long() -> None:
    longest = b"NOOP " + b"x" * (MAX_LINE - 5)
    parser = SmtpLog()
    assert parser.feed(True, longest + b"\r") == []
    assert parser.feed(True, b"\n") == []
    assert not parser.done

    parser = SmtpLog()
    parser.feed(True, b"EHLO c\r\nMAIL FROM:<a@b>\r\n")
    assert parser.feed(True, longest + b"x") == []
    assert parser.feed(True, b"y") == [smtp(helo="c", mail_from="<a@b>")]
    assert (parser.done, parser.failure) == (True, "line_too_long")

    parser = SmtpLog()
    parser.feed(True, b"NOOP\r\n")
    assert parser.feed(False, b"250 " + b"x" * MAX_LINE + b"\r\n") == [smtp()]
    assert (parser.done, parser.failure) == (True, "line_too_long")


def test_a_malformed_reply_ends_the_work() -> None:
    parser = SmtpLog()
    parser.feed(True, b"HELO c\r\n")
    assert parser.feed(False, b"220 hi\r\nok\r\n") == [smtp(helo="c")]
    assert (parser.done, parser.failure) == (True, "malformed_reply")


def test_recipients_past_the_bound_are_counted() -> None:
    parser = SmtpLog()
    parser.feed(False, b"220 hi\r\n")
    parser.feed(True, b"MAIL FROM:<a@b>\r\n")
    parser.feed(False, b"250 ok\r\n")
    for i in range(MAX_RECIPIENTS + 3):
        parser.feed(True, b"RCPT TO:<r%d@x>\r\n" % i)
        parser.feed(False, b"250 ok\r\n")
    (event,) = parser.end()
    assert event["smtp"]["rcpt_to"] == [f"<r{i}@x>" for i in range(MAX_RECIPIENTS)]
    assert event["smtp"]["rcpt_to_cut"] == 3


def test_a_header_past_the_bound_ends_the_work() -> None:
    parser = SmtpLog()
    parser.feed(True, b"MAIL FROM:<a@b>\r\nDATA\r\n")
    parser.feed(False, b"220 hi\r\n250 ok\r\n354 go\r\n")
    folded = b"Subject: s\r\n" + b" " + b"x" * 1000 + b"\r\n"
    (event,) = parser.feed(True, folded + (b" " + b"x" * 1000 + b"\r\n") * (MAX_HEADER_VALUE // 1000))
    assert (parser.done, parser.failure) == (True, "header_too_long")
    assert len(event["email"]["subject"]) > MAX_HEADER_VALUE


def test_too_many_commands_waiting_end_the_work() -> None:
    parser = SmtpLog()
    assert parser.feed(True, b"NOOP\r\n" * (MAX_PENDING + 1)) == [smtp()]
    assert (parser.done, parser.failure) == (True, "too_many_pending_commands")


def test_a_gap_writes_the_open_transactions() -> None:
    parser = SmtpLog()
    parser.feed(True, b"HELO c\r\nMAIL FROM:<a@b>\r\n")
    assert parser.gap(True, 100) == [smtp(helo="c", mail_from="<a@b>")]
    assert (parser.done, parser.failure) == (True, "gap")


def test_every_truncation_of_a_session_raises_nothing() -> None:
    flat = [(to_server, data[i : i + 1]) for to_server, data in SESSION for i in range(len(data))]
    for end in range(0, len(flat) + 1, 7):
        parser = SmtpLog()
        bodies = run(parser, flat[:end])
        assert len(bodies) <= 1 and parser.failure is None


def test_random_bytes_raise_nothing() -> None:
    rng = random.Random(5321)
    pieces = [
        b"\r\n",
        b"\n",
        b".",
        b"DATA",
        b"BDAT 3",
        b" LAST",
        b"354 x",
        b"250-",
        b"250 ",
        b"To: a,b",
        b" x",
    ]
    for _ in range(300):
        stream = [(rng.random() < 0.5, b"".join(rng.choices(pieces, k=rng.randrange(12)))) for _ in range(8)]
        stream.append((rng.random() < 0.5, rng.randbytes(rng.randrange(40))))
        run(SmtpLog(), stream)


RECIPIENTS = [
    "camronm", "melvynr", "valeskag", "yvonnes", "kirstym", "vladimim", "mandil", "joaon", "timothab",
    "sergec", "bernicea", "juttar", "carolah", "liesal", "tigera", "fernanda", "sherryb", "uschic",
    "waylone", "torib", "corbind", "felicidr", "isidoraw", "kristalh", "orlandos", "elysea", "beckyw",
    "samsonw", "lucjanm", "channinm",
]  # fmt: skip


def check_capture_event(event: dict[str, Any]) -> None:
    """The capture's one mail (DARPA 1999's): its To header, folded over some 10 kB, lists 345
    addresses; the message has no From header."""
    assert event["smtp"] == {
        "helo": "delta.peach.mil",  # its EHLO, which the server refused before the HELO
        "mail_from": "<coreys@delta.peach.mil>",
        "rcpt_to": [f"<{name}@pigeon.eyrie.af.mil>" for name in RECIPIENTS],
    }
    email = event["email"]
    assert list(email) == ["to", "status", "subject"]
    assert (email["status"], email["subject"]) == ("PARSE_DONE", "Take into The would, for")
    to = email["to"]
    assert len(to) == 345 and all(address.endswith(".eyrie.af.mil") and " " not in address for address in to)
    assert to[:3] == [
        "suzannaa@eagle.eyrie.af.mil",
        "guntherk@eagle.eyrie.af.mil",
        "theresac@eagle.eyrie.af.mil",
    ]
    assert to[-3:] == ["jouniw@zeno.eyrie.af.mil", "yannisb@zeno.eyrie.af.mil", "victors@zeno.eyrie.af.mil"]


def test_the_captures_mail() -> None:
    parser = SmtpLog()
    (event,) = run(parser, capture_stream(CORPUS / "smtp.pcap", 25))
    check_capture_event(event)
    assert parser.failure is None


def test_the_engine_writes_the_captures_smtp_event() -> None:
    assert PARSERS["smtp"] is SmtpLog
    engine = Engine(EngineConfig(), [AppLayer])
    sink = ListSink()
    engine.add_sink(sink)
    with open_capture(str(CORPUS / "smtp.pcap")) as reader:
        engine.run(reader)
    engine.finish()
    (event,) = [e for e in sink.events if e["event_type"] == "smtp"]
    assert ({event["src_port"], event["dest_port"]}, event["pcap_cnt"]) == ({2127, 25}, 89)
    check_capture_event(event)

"""NFStream over one capture, as a Python user would run it for application identification:
nDPI dissection on (its default 20 packets per flow), statistics off. Prints the flows counted.

    python -m bench.nfstream_run CAPTURE
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from nfstream import NFStreamer

    flows = sum(1 for _ in NFStreamer(source=argv[0], n_dissections=20, statistical_analysis=False))
    print(flows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

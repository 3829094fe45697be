"""Command line: ``python -m cxent [tour | demo | bench ...]``.

``python -m cxent`` runs the tour (the worked example and a quick speed comparison) and then the
demo when scikit-learn is installed; ``python -m cxent tour`` and ``python -m cxent demo`` run one
of them; ``python -m cxent bench`` compares every operation against the installed peers.
"""

import argparse
import sys


def _threads(text):
    try:
        vals = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 1,2; got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be positive; got {text!r}")
    return vals


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cxent", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tour", help="the worked example and a quick speed comparison")
    d = sub.add_parser("demo", help="softmax regression on 8x8 digit images (needs scikit-learn)")
    d.add_argument("--figure", default="cxent-digits.png", metavar="FILE.png",
                   help="where to save the figure (needs matplotlib; '' for none)")
    b = sub.add_parser("bench", help="median times and ratios against PyTorch, scikit-learn, "
                                     "SciPy and NumPy")
    b.add_argument("--quick", action="store_true", help="fewer cases, shorter timing")
    b.add_argument("--threads", type=_threads, default=(1,), metavar="1,2",
                   help="thread counts to measure (default 1)")
    b.add_argument("--ops", default=None, help="comma-separated operations (default: all)")
    b.add_argument("--json", dest="json_file", metavar="FILE", help="write the results as JSON")
    b.add_argument("--plot", dest="plot_file", metavar="FILE.png",
                   help="draw a bar chart (needs matplotlib)")
    args = parser.parse_args(argv)

    from . import _bench

    if args.command in (None, "tour"):
        _bench.tour()
    if args.command is None:
        from importlib.util import find_spec

        if find_spec("sklearn") is not None:
            from ._demo import demo

            print("\n" + "=" * 78 + "\nDemo: image classification\n")
            demo()
    elif args.command == "demo":
        from ._demo import demo

        demo(figure=args.figure)
    elif args.command == "bench":
        ops = args.ops.split(",") if args.ops else None
        unknown = set(ops or ()) - set(_bench.OPS)
        if unknown:
            parser.error(f"unknown operation(s) {sorted(unknown)}; choose from {_bench.OPS}")
        _bench.bench(quick=args.quick, threads=args.threads, ops=ops, json_file=args.json_file,
                     plot_file=args.plot_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

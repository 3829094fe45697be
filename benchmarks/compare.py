"""Compare cxent's times of two `python -m cxent bench --json` runs (before / after a change).

    python benchmarks/compare.py before.json after.json

Prints, for each case, cxent's time after / before, the same divided by how much the fastest
peer's time changed between the runs (machine noise shows in the peers too), and the ratios to
the fastest peer in each run."""

import json
import sys


def _rows(path):
    with open(path) as f:
        d = json.load(f)
    return {(r["n"], r["k"], r["dtype"], r["threads"], r["op"]): r["seconds"] for r in d["rows"]}


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    a, b = _rows(argv[1]), _rows(argv[2])
    ratios, normed = [], []
    for key in a:
        if key not in b:
            continue
        sa, sb = a[key], b[key]
        peer_a = min(v for k, v in sa.items() if k != "cxent")
        peer_b = min(v for k, v in sb.items() if k != "cxent")
        r = sb["cxent"] / sa["cxent"]
        drift = peer_b / peer_a  # how much slower the machine ran the peers in the second run
        ratios.append(r)
        normed.append(r / drift)
        n, k, dt, t, op = key
        print(f"{n:>9} x {k:<6} {dt:8} t={t} {op:22} after/before x{r:5.2f} "
              f"(peer-normalised x{r / drift:5.2f})   best peer / cxent: "
              f"{peer_a / sa['cxent']:5.2f} -> {peer_b / sb['cxent']:5.2f}")
    ratios.sort()
    normed.sort()
    print(f"median after/before x{ratios[len(ratios) // 2]:.3f}, peer-normalised "
          f"x{normed[len(normed) // 2]:.3f}, over {len(ratios)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Generate the Python protobuf and gRPC modules (with .pyi stubs) from proto/ into kemu/v1.

One command, run from the repository root: ``python scripts/genproto.py``.
``python scripts/genproto.py --check`` regenerates into a temporary folder and fails if the
checked-in modules differ, which CI runs.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("kemu") / "v1"


def generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    marker = '"""Generated from proto/kemu/v1 by scripts/genproto.py."""\n'
    (out_dir / PACKAGE_DIR / "__init__.py").write_text(marker)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if kemu/v1 is not current")
    options = parser.parse_args()
    if not options.check:
        target = ROOT / PACKAGE_DIR
        for old in target.glob("*_pb2*.py*"):
            old.unlink()
        generate(ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / PACKAGE_DIR
        current = ROOT / PACKAGE_DIR
        names = {p.name for p in fresh.iterdir()} | {
            p.name for p in current.iterdir() if p.suffix in (".py", ".pyi")
        }
        stale = [n for n in sorted(names) if not (fresh / n).exists() or not (current / n).exists()
                 or not filecmp.cmp(fresh / n, current / n, shallow=False)]
        if stale:
            print("generated code is out of date; run: python scripts/genproto.py", file=sys.stderr)
            for name in stale:
                print(f"  {PACKAGE_DIR / name}", file=sys.stderr)
            return 1
    print("generated code is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

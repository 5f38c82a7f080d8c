#!/usr/bin/env bash
# Builds and tests the Python package canary-sdk (bindings/python), from anywhere:
#
#   bindings/python/test.sh [pytest args...]     e.g.  bindings/python/test.sh -m "not real_stack"
#
# 1. a tools venv under the build dir with maturin, ziglang, auditwheel, pytest and mypy (from PyPI);
# 2. `maturin build --release --zig --compatibility manylinux2014`: the RELEASE wheel, one abi3
#    wheel (CPython >= 3.9) linked against glibc 2.17 by zig, so it installs on RHEL 8, Ubuntu
#    20.04, Debian 11, Amazon Linux 2 and later; its size and build time printed. `auditwheel show`
#    must find it consistent with manylinux_2_17 (or older) and the file name must carry that tag;
# 3. the same with `--features testing`: the TEST wheel, with the in-memory world
#    (canary_sdk.testing) the unit tests drive; same flags, so it reuses the release build's
#    dependencies;
# 4. the release wheel into a FRESH venv with `pip install --no-index` (no network): imported,
#    checked to have no test fakes, and the api tour run with it (also with Python 3.9 when one is
#    installed);
# 5. the test wheel into the tools venv; pytest (tests/; the real-stack test runs
#    examples/real_stack.py with the fresh venv's Python, i.e. the release wheel; it skips without
#    the local stack and fails without it when CI is set); the api tour with the test wheel;
#    `mypy --strict` on examples/api_tour.py (every public name) and on the package itself;
#    `mypy.stubtest` of the native module against its stubs; the binding's line count.
#
# Needs: cargo (Rust >= 1.85), python3 >= 3.9 with venv (installed with apt-get when missing);
# zig comes from PyPI (ziglang), no system compiler toolchain is used for the wheel.
# Builds in $CARGO_TARGET_DIR (default <repo>/target/python), away from the workspace's target
# dir, so pyo3's settings do not invalidate it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/python}"
build="$CARGO_TARGET_DIR"
tools="$build/venv"
wheels="$build/wheels"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
python="${PYTHON:-python3}"

step() { printf '\n== %s\n' "$*"; }

step "python: $($python --version 2>&1)"
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
    echo "bindings/python needs Python >= 3.9 ($python)" >&2
    exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        step "installing python3-venv"
        apt-get install -y -qq python3-venv >/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
    else
        echo "python venv support is missing: install python3-venv" >&2
        exit 1
    fi
fi

step "tools venv: $tools"
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
# Pinned together: maturin drives zig through the cargo-zigbuild it embeds, which supports a range
# of zig releases, and auditwheel's policy table decides what the manylinux check below accepts.
"$tools/bin/pip" install -q "maturin==1.16.0" "ziglang==0.15.2" "auditwheel==6.8.2" "pytest>=7" "mypy>=1.8"

step "maturin build --release --zig --compatibility manylinux2014"
# A small wheel: stripped, thin LTO (the workspace's release profile is the default one).
export CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4
rm -f "$wheels"/canary_sdk-*.whl "$build"/test-wheels/canary_sdk-*.whl
# A `maturin develop` leaves its (debug, maybe `testing`) module in the source tree; a wheel must
# never pick it up.
rm -f "$here"/python/canary_sdk/*.so
# The host's glibc (2.36 on Debian 12) would make the wheel manylinux_2_34: zig links against
# glibc 2.17 stubs instead, and compiles the C in the tree (ring) for that target too. zig is the
# pinned one from the tools venv (`python -m ziglang`), not whatever zig may be on PATH.
build_wheel() { # <out dir> [maturin args...]
    local out="$1"
    shift
    (cd "$here" && CARGO_ZIGBUILD_PYTHON_PATH="$tools/bin/python" \
        "$tools/bin/maturin" build --release --zig --compatibility manylinux2014 \
        --interpreter "$tools/bin/python" --out "$out" "$@")
}
started=$SECONDS
build_wheel "$wheels"
wheel="$(ls "$wheels"/canary_sdk-*.whl)"
echo "wheel: $(basename "$wheel") $(stat -c %s "$wheel") bytes ($(du -h "$wheel" | cut -f1)), built in $((SECONDS - started)) s"

step "auditwheel show: glibc 2.17 (manylinux2014)"
# Two things can regress: the wheel's tag (pip on an old system refuses a manylinux_2_34 file
# whatever its contents) and its contents (a newer glibc symbol, or a shared library outside the
# manylinux policy, makes auditwheel report a newer tag or plain linux_x86_64).
audit="$("$tools/bin/auditwheel" show "$wheel")"
echo "$audit"
consistent="$(tr '\n' ' ' <<<"$audit" | sed -nE 's/.*consistent with the following platform tag: *"([^"]+)".*/\1/p')"
glibc_minor="$(sed -nE 's/^manylinux_2_([0-9]+)_x86_64$/\1/p' <<<"$consistent")"
if [ -z "$glibc_minor" ] || [ "$glibc_minor" -gt 17 ]; then
    echo "the wheel needs more than glibc 2.17: auditwheel finds it consistent with '${consistent:-nothing}'" >&2
    exit 1
fi
case "$(basename "$wheel")" in
    *manylinux_2_17_x86_64*|*manylinux2014_x86_64*) ;;
    *) echo "the wheel's file name does not carry the manylinux2014 tag: $(basename "$wheel")" >&2; exit 1 ;;
esac
echo "ok: consistent with $consistent, tagged $(basename "$wheel" .whl | cut -d- -f5)"

step "maturin build --features testing (the test wheel)"
started=$SECONDS
build_wheel "$build/test-wheels" --features testing
test_wheel="$(ls "$build"/test-wheels/canary_sdk-*.whl)"
echo "test wheel: $(stat -c %s "$test_wheel") bytes, built in $((SECONDS - started)) s"

fresh_install() { # <python> <venv dir>: the release wheel into a new venv, without the network
    rm -rf "$2"
    "$1" -m venv "$2"
    "$2/bin/pip" install -q --no-index --no-deps "$wheel"
    (cd "$build" && "$2/bin/python" "$here/tests/release_check.py")
    (cd "$build" && "$2/bin/python" "$here/examples/api_tour.py")
}

step "fresh venv, pip install --no-index (the release wheel)"
fresh_install "$python" "$build/fresh-venv"
# The abi3 floor, when a Python 3.9 is around (PYTHON39, pyenv, PATH).
py39=""
for candidate in ${PYTHON39:-} "$HOME"/.pyenv/versions/3.9*/bin/python3.9 "$(command -v python3.9 || true)"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
        py39="$candidate"
        break
    fi
done
if [ -n "$py39" ]; then
    step "fresh venv on $("$py39" --version 2>&1) (the abi3 floor)"
    fresh_install "$py39" "$build/fresh-venv-py39"
fi

step "pytest (the test wheel; the real-stack test with the release wheel)"
"$tools/bin/pip" install -q --force-reinstall --no-index --no-deps "$test_wheel"
[ -f "$repo/scripts/stack/env.sh" ] && source "$repo/scripts/stack/env.sh"
started=$SECONDS
(cd "$here/tests" && CANARY_RELEASE_PYTHON="$build/fresh-venv/bin/python" \
    "$tools/bin/python" -m pytest -q -p no:cacheprovider --durations=5 "$@")
echo "pytest: $((SECONDS - started)) s"

step "api tour with the test wheel"
(cd "$build" && "$tools/bin/python" "$here/examples/api_tour.py")

step "mypy --strict examples/api_tour.py and the package"
(cd "$here/examples" && "$tools/bin/mypy" --strict --cache-dir "$build/mypy-cache" api_tour.py)
(cd "$here/python" && "$tools/bin/mypy" --strict --cache-dir "$build/mypy-cache" -p canary_sdk)

step "stubtest canary_sdk._native"
(cd "$build" && "$tools/bin/python" -m mypy.stubtest canary_sdk._native)

step "hand-written lines"
bash "$repo/bindings/count-lines.sh"

step "bindings/python: all passed"

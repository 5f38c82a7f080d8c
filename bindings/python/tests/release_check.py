"""Run by test.sh with the RELEASE wheel in a fresh venv (not a pytest module): it imports, it
has every public name, and none of the test fakes."""

import sys

import canary_sdk
from canary_sdk import _native

print("imported canary_sdk", canary_sdk.__version__, "on", sys.version.split()[0])
assert all(hasattr(canary_sdk, name) for name in canary_sdk.__all__)
assert not hasattr(_native, "MemoryWorld"), "the release wheel has test fakes"
assert sorted(_native.__all__) == sorted(["__version__", "Spec", "Canary", "Stream", "Stop", "replay"]), _native.__all__
try:
    import canary_sdk.testing  # noqa: F401
except ImportError as e:
    print("no test fakes:", e)
else:
    raise SystemExit("canary_sdk.testing imported from the release wheel")

"""ErrorReply / RemoteError: remote exceptions come back as the registered local class."""

from __future__ import annotations

import pytest

from labkit.devices import PropertyLimitError
from labkit.wire import (
    ErrorReply,
    Message,
    RemoteError,
    Request,
    WireDecodeError,
    decode,
    encode,
    register_error,
    register_message,
)


class CalibrationDriftError(RuntimeError):
    """A labkit-style error registered by the layer that defines it."""


class UnregisteredError(Exception):
    pass


class NeedsTwoArgsError(Exception):
    def __init__(self, what, why):
        super().__init__(f"{what}: {why}")


def _fail_in_engine(exc):
    try:
        raise exc
    except Exception as caught:  # what the engine's request loop does
        reply = ErrorReply.from_exception(42, caught)
    return decode(encode(reply))  # crosses the wire


def _calibrate_stage():
    raise CalibrationDriftError("stage drifted by 3 um; run scope.stage.home()")


def test_registered_error_is_reraised_as_the_same_class_with_remote_traceback():
    register_error(CalibrationDriftError)
    try:
        _calibrate_stage()
    except CalibrationDriftError as caught:
        reply = decode(encode(ErrorReply.from_exception(7, caught)))
    assert isinstance(reply, ErrorReply) and reply.id == 7
    assert reply.type.endswith("test_wire_errors.CalibrationDriftError")
    with pytest.raises(CalibrationDriftError, match="drifted by 3 um") as info:
        reply.raise_()
    cause = info.value.__cause__
    assert isinstance(cause, RemoteError)
    assert "_calibrate_stage" in cause.remote_traceback
    assert "_calibrate_stage" in "".join(cause.__notes__)
    assert info.value.remote_traceback == cause.remote_traceback


def test_property_limit_error_from_the_devices_layer_maps_without_registration():
    reply = _fail_in_engine(
        PropertyLimitError("exposure_ms=5000 is above the limit 2000 ms of SimCamera 'camera'")
    )
    with pytest.raises(PropertyLimitError, match="above the limit 2000 ms"):
        reply.raise_()


def test_builtin_errors_map_to_themselves():
    with pytest.raises(ValueError, match="bad roi"):
        _fail_in_engine(ValueError("bad roi")).raise_()
    with pytest.raises(KeyError) as info:
        _fail_in_engine(KeyError("camera")).raise_()
    assert info.value.args == ("camera",)


def test_unregistered_error_becomes_remote_error_and_is_never_imported():
    exc = _fail_in_engine(UnregisteredError("boom")).to_exception()
    assert type(exc) is RemoteError
    assert exc.remote_type.endswith("UnregisteredError")
    assert str(exc) == f"{exc.remote_type}: boom"
    assert "raise exc" in exc.remote_traceback


def test_error_with_other_constructor_falls_back_to_remote_error():
    register_error(NeedsTwoArgsError)
    reply = _fail_in_engine(NeedsTwoArgsError("ring", "full"))
    exc = reply.to_exception()
    assert type(exc) is RemoteError and "ring: full" in str(exc)


def test_error_reply_for_garbage_is_a_wire_decode_error_locally():
    try:
        decode([b"garbage"])
    except WireDecodeError as caught:
        reply = decode(encode(ErrorReply.from_exception(0, caught)))
    with pytest.raises(WireDecodeError, match="not a labkit wire message"):
        reply.raise_()


def test_register_error_refuses_non_exceptions():
    with pytest.raises(TypeError, match="exception class"):
        register_error(int)


def test_custom_messages_register_and_round_trip():
    @register_message
    class Ping(Message):
        nonce: int

    assert decode(encode(Ping(nonce=3))) == Ping(nonce=3)

    class Other(Message, tag="Ping"):
        x: int = 0

    with pytest.raises(ValueError, match="already used"):
        register_message(Other)


def test_messages_are_versioned_and_tagged():
    frames = encode(Request(id=1, method="snap"))
    out = decode(frames)
    assert out.v == 1 and out.params == {}
    assert b"Request" in bytes(frames[0])


def test_exception_with_broken_str_still_makes_an_error_reply():
    class BrokenStrError(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    reply = decode(encode(ErrorReply.from_exception(3, BrokenStrError("detail"))))
    assert "detail" in reply.message
    assert isinstance(reply.to_exception(), RemoteError)

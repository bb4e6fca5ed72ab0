"""Grad mode: no_grad, enable_grad and set_grad_enabled, as context managers and decorators."""
import tapegrad as tg


def records(fn):
    x = tg.ones(2, requires_grad=True)
    return fn(x).requires_grad


def test_no_grad_stops_recording_inside_and_restores_after():
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        assert not records(lambda x: x * 2)
    assert tg.is_grad_enabled() and records(lambda x: x * 2)


def test_enable_grad_records_again_inside_no_grad():
    with tg.no_grad():
        with tg.enable_grad():
            assert records(lambda x: x * 2)
        assert not records(lambda x: x * 2)


def test_no_grad_and_enable_grad_as_decorators():
    @tg.no_grad()
    def evaluate(x):
        return x * 2

    @tg.enable_grad()
    def train(x):
        return x * 2

    assert not records(evaluate)
    with tg.no_grad():
        assert records(train)
    assert tg.is_grad_enabled()


def test_set_grad_enabled_acts_at_once_as_a_call():
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled() and not records(lambda x: x * 2)
    finally:
        tg.set_grad_enabled(True)
    assert records(lambda x: x * 2)


def test_set_grad_enabled_as_a_context_manager_restores_the_previous_mode():
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with tg.no_grad():
        with tg.set_grad_enabled(True):
            assert records(lambda x: x * 2)
        assert not tg.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator_does_not_change_the_mode_when_applied():
    @tg.set_grad_enabled(False)
    def evaluate(x):
        return x * 2

    assert tg.is_grad_enabled()
    assert not records(evaluate)
    assert tg.is_grad_enabled()


def test_the_mode_is_restored_when_the_block_raises():
    try:
        with tg.no_grad():
            raise ValueError("boom")
    except ValueError:
        pass
    assert tg.is_grad_enabled()

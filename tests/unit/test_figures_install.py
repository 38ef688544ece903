"""Every engine's sessions keep the board's figures, however many engines came and went before it."""

from __future__ import annotations

import gc

from sqlalchemy.orm import sessionmaker

from engine.loans import figures


def test_a_new_factory_at_a_discarded_ones_address_still_keeps_the_figures():
    # SQLAlchemy's listener registry is keyed by id(): a factory made after another was collected may sit
    # at its address (the test suite and the CLI build engine after engine). Each must get the listeners.
    without = 0
    for _ in range(40):
        factory = sessionmaker()
        figures.install(factory)
        figures.install(factory)  # a second call adds nothing
        listeners = list(factory().dispatch.before_commit)
        without += figures._before_commit not in listeners
        assert listeners.count(figures._before_commit) <= 1
        del factory
        gc.collect(1)  # the young generations: where the factory just dropped is (a full pass is slow)
    assert without == 0

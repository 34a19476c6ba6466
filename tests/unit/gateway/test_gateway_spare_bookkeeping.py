"""SpareReservations' bookkeeping, with the escrow's statements replaced by futures the
test settles: the orders of events that real Postgres makes too fast to catch. What the
escrow itself does with spares is tests/integration/gateway/test_gateway_spares.py."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from attesta_gateway.spares import SpareReservations


class FakeEscrow:
    """Records what the spares ask of the escrow; reservations wait for `settle`."""

    def __init__(self) -> None:
        self.reserving: dict[str, tuple[str, int, asyncio.Future[bool | None]]] = {}
        self.released: list[str] = []
        self.shrunk: dict[str, int] = {}
        self.release_gate: asyncio.Event | None = None
        self.fail_reserve = False
        self._ids = itertools.count()

    def reserve(self, account: str, inference_id: str, amount: int) -> asyncio.Future[bool | None]:
        future: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        if self.fail_reserve:
            future.set_exception(OSError("connection lost"))
        self.reserving[inference_id] = (account, amount, future)
        return future

    def settle(self, inference_id: str, held: bool) -> None:
        self.reserving[inference_id][2].set_result(held)

    async def release(self, inference_ids: list[str]) -> object:
        if self.release_gate is not None:
            await self.release_gate.wait()
        self.released.extend(inference_ids)
        return None

    async def shrink(self, keep: dict[str, int]) -> object:
        self.shrunk.update(keep)
        return None

    def new_id(self, prefix: str, epoch: int) -> str:
        return f"{prefix}-{epoch}-{next(self._ids)}"


def _spares(escrow: FakeEscrow, idle_s: float = 5.0) -> SpareReservations:
    return SpareReservations(
        escrow.reserve,
        escrow.release,
        escrow.shrink,
        idle_s=idle_s,
        headroom=1.5,
        request_lifetime_s=60.0,
    )


async def _reserving_spare(escrow: FakeEscrow, spares: SpareReservations, need: int = 100) -> str:
    """The id of the account's spare, asked for and not yet answered."""
    spares.refill("acct", "chatcmpl", 0, need, escrow.new_id)
    await asyncio.sleep(0)
    (inference_id,) = [i for i, (_, _, f) in escrow.reserving.items() if not f.done()]
    return inference_id


async def _held_spare(escrow: FakeEscrow, spares: SpareReservations, need: int = 100) -> str:
    inference_id = await _reserving_spare(escrow, spares, need)
    escrow.settle(inference_id, True)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert spares.held == 1
    return inference_id


async def test_a_spare_is_taken_once_and_sized_with_headroom() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    spare_id = await _held_spare(escrow, spares, need=100)
    assert escrow.reserving[spare_id][:2] == ("acct", 150)
    # One held or being reserved per account and endpoint: no second one meanwhile.
    spares.refill("acct", "chatcmpl", 0, 100, escrow.new_id)
    assert len(escrow.reserving) == 1
    taken = spares.take("acct", "chatcmpl", 0, 100)
    assert taken is not None and taken.inference_id == spare_id
    assert spares.take("acct", "chatcmpl", 0, 100) is None
    # Another endpoint has spares of its own.
    assert spares.take("acct", "cmpl", 0, 100) is None


@pytest.mark.parametrize(
    ("epoch", "need"),
    [(1, 100), (0, 151), (0, 74)],
    ids=["another epoch", "too small", "over twice the need"],
)
async def test_an_unfit_spare_is_given_back(epoch: int, need: int) -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    spare_id = await _held_spare(escrow, spares, need=100)
    assert spares.take("acct", "chatcmpl", epoch, need) is None
    await asyncio.sleep(0)
    assert escrow.released == [spare_id] and spares.held == 0


async def test_give_back_waits_for_a_spare_being_reserved_and_pauses() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    spare_id = await _reserving_spare(escrow, spares)
    giving = asyncio.create_task(spares.give_back("acct"))
    await asyncio.sleep(0.01)
    assert not giving.done()  # the spare's reservation is still out
    escrow.settle(spare_id, True)
    await asyncio.wait_for(giving, 1)
    assert escrow.released == [spare_id] and spares.held == 0
    # Short of money: no spare for the account for a while, others still get theirs.
    spares.refill("acct", "chatcmpl", 0, 100, escrow.new_id)
    spares.refill("other", "chatcmpl", 0, 100, escrow.new_id)
    await asyncio.sleep(0)
    assert [account for account, _, _ in escrow.reserving.values()] == ["acct", "other"]


async def test_give_back_waits_for_a_release_under_way() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    spare_id = await _held_spare(escrow, spares, need=100)
    escrow.release_gate = asyncio.Event()
    assert spares.take("acct", "chatcmpl", 0, 1_000) is None  # unfit: being given back
    giving = asyncio.create_task(spares.give_back("acct"))
    await asyncio.sleep(0.01)
    assert not giving.done()
    escrow.release_gate.set()
    await asyncio.wait_for(giving, 1)
    assert escrow.released == [spare_id]


async def test_give_back_lowers_the_spares_in_use_to_their_needs() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    spare_id = await _held_spare(escrow, spares, need=100)
    assert spares.take("acct", "chatcmpl", 0, 90) is not None
    await spares.give_back("acct")
    assert escrow.shrunk == {spare_id: 90}
    # Once: the excess is back.
    escrow.shrunk.clear()
    await spares.give_back("acct")
    assert escrow.shrunk == {}


async def test_a_short_balance_pauses_and_a_failed_reservation_is_given_back() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    short = await _reserving_spare(escrow, spares)
    escrow.settle(short, False)
    await asyncio.sleep(0)
    spares.refill("acct", "chatcmpl", 0, 100, escrow.new_id)
    assert list(escrow.reserving) == [short]  # paused
    assert escrow.released == []

    escrow.fail_reserve = True
    spares.refill("other", "chatcmpl", 0, 100, escrow.new_id)
    for _ in range(3):
        await asyncio.sleep(0)
    (lost,) = [i for i in escrow.reserving if i != short]
    # It may have been taken before the answer was lost: given back to be sure.
    assert escrow.released == [lost] and spares.held == 0


async def test_idle_spares_expire_in_one_statement() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow, idle_s=0.1)
    spares.start()
    try:
        first = await _held_spare(escrow, spares)
        spares.refill("other", "cmpl", 0, 10, escrow.new_id)
        await asyncio.sleep(0)
        second = next(i for i in escrow.reserving if i != first)
        escrow.settle(second, True)
        await asyncio.sleep(0.4)
        assert sorted(escrow.released) == sorted([first, second]) and spares.held == 0
    finally:
        await spares.close()


async def test_close_gives_back_what_is_held_and_what_lands_after() -> None:
    escrow = FakeEscrow()
    spares = _spares(escrow)
    held = await _held_spare(escrow, spares)
    spares.refill("other", "chatcmpl", 0, 100, escrow.new_id)
    await asyncio.sleep(0)
    landing = next(i for i in escrow.reserving if i != held)
    closing = asyncio.create_task(spares.close())
    await asyncio.sleep(0.01)
    escrow.settle(landing, True)
    await asyncio.wait_for(closing, 1)
    assert sorted(escrow.released) == sorted([held, landing])
    spares.refill("acct", "chatcmpl", 0, 100, escrow.new_id)
    assert len(escrow.reserving) == 2  # closed: reserves no more

from firmware.clock import VirtualClock
from firmware.run.scheduler import Scheduler


def test_ticks_land_on_absolute_deadlines():
    clock = VirtualClock(100.0)
    times: list[float] = []
    Scheduler(clock, 0.1).run(times.append, max_ticks=50)
    assert [round(t - 100.0, 9) for t in times] == [round(k * 0.1, 9) for k in range(50)]


def test_slow_tick_counts_overrun_and_skips_missed_deadlines():
    clock = VirtualClock()
    sched = Scheduler(clock, 0.1)
    times: list[float] = []
    sched.run(lambda t: (times.append(t), clock.advance(0.25 if len(times) == 3 else 0.0)),
              max_ticks=6)
    assert sched.overruns == 1 and sched.skipped_ticks == 2
    assert round(times[3], 9) == 0.5


def test_no_drift_when_ticks_take_time():
    clock = VirtualClock()
    sched = Scheduler(clock, 0.1)
    sched.run(lambda t: clock.advance(0.03), max_ticks=1000)
    assert sched.overruns == 0
    assert abs(sched.next_deadline() - 100.0) < 1e-9


def test_stop_ends_the_loop():
    clock = VirtualClock()
    sched = Scheduler(clock, 0.1)
    sched.run(lambda t: sched.stop() if t >= 0.5 else None)
    assert sched.ticks == 6

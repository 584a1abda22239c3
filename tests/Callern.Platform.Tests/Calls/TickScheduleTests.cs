using Callern.Platform.Calls;

namespace Callern.Platform.Tests.Calls;

/// <summary>
/// When a call's next tick (timer event, top-up check, depletion) is due, given when this one was due,
/// when it ran and the seconds until something happens on its own (a warning, the end): each call keeps its own phase, so a late sweep does not line
/// calls up to tick together from then on.
/// </summary>
public sealed class TickScheduleTests
{
    private static readonly DateTimeOffset Due = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0.0, null, 30.0)]    // on time, billing paused: an interval after the last due time
    [InlineData(0.0, 600L, 30.0)]    // on time, the next warning or the end ten minutes away
    [InlineData(1.2, 600L, 30.0)]    // a sweep 1.2 s late: still an interval after the last due time
    [InlineData(35.0, 600L, 60.0)]   // more than a whole interval late: the next due time of the same phase
    [InlineData(60.0, 600L, 90.0)]   // exactly two intervals late
    [InlineData(0.5, 3L, 3.5)]       // three seconds to the next warning or the end: the tick comes when they run out
    [InlineData(0.0, 0L, 1.0)]       // nothing left yet still connected: at least a second later
    public void Each_call_keeps_its_own_tick_phase(double lateSeconds, long? secondsUntilNext, double nextAfterDue)
    {
        var now = Due + TimeSpan.FromSeconds(lateSeconds);

        var next = CallMetering.NextTick(Due, now, secondsUntilNext);

        Assert.Equal(Due + TimeSpan.FromSeconds(nextAfterDue), next);
    }
}

using Callern.Platform.Calls;

namespace Callern.Platform.Tests.Calls;

/// <summary>The metering rule alone: what is billed, and when billing pauses, resumes or ends, from what each party confirmed.</summary>
public sealed class MeteringRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DatabaseLag = TimeSpan.FromSeconds(15);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    /// <summary>A party in a run of confirmations since <paramref name="since"/>, last at <paramref name="last"/>, known from this node's memory.</summary>
    private static PartyMedia Flowing(double since, double last) => new(At(since), At(last), null, Live: true);

    private static PartyMedia Lapsed(double last) => new(null, At(last), null, Live: true);

    [Fact]
    public void An_accepted_call_connects_only_when_both_sides_confirm_media()
    {
        var waiting = new Meter(0, null, null);

        var oneSide = MeteringRules.Next(false, waiting, Flowing(10, 10), new PartyMedia(null, null, null, Live: false), At(11), Grace, DatabaseLag);
        var bothSides = MeteringRules.Next(false, waiting, Flowing(10, 12), Flowing(12, 12), At(12), Grace, DatabaseLag);

        Assert.Equal(MeterChange.None, oneSide.Change);
        Assert.Equal((MeterChange.Connected, new Meter(0, At(12), null)), bothSides);
    }

    [Fact]
    public void Billing_covers_only_what_both_parties_confirmed_however_late_it_is_evaluated()
    {
        var meter = new Meter(0, At(0), null);

        // The student's last confirmation was at 40 s; whoever looks at 44 s or at 90 s bills 40 s.
        var soon = MeteringRules.BilledSeconds(meter, Flowing(0, 40), Flowing(0, 42), At(44));
        var late = MeteringRules.BilledSeconds(meter, Lapsed(40), Flowing(0, 88), At(90));

        Assert.Equal((40L, 40L), (soon, late));
    }

    [Fact]
    public void A_lapse_pauses_billing_at_the_last_confirmed_moment_and_the_grace_counts_from_there()
    {
        var meter = new Meter(0, At(0), null);

        var (change, paused) = MeteringRules.Next(true, meter, Lapsed(40), Flowing(0, 46), At(46), Grace, DatabaseLag);

        Assert.Equal((MeterChange.Paused, new Meter(40, null, At(40))), (change, paused));
        Assert.Equal(MeterChange.None, MeteringRules.Next(true, paused, Lapsed(40), Flowing(0, 69), At(69.9), Grace, DatabaseLag).Change);
        Assert.Equal(MeterChange.ConnectionLost, MeteringRules.Next(true, paused, Lapsed(40), Flowing(0, 70), At(70), Grace, DatabaseLag).Change);
    }

    [Fact]
    public void Media_confirmed_again_within_the_grace_resumes_billing_when_both_runs_are_live()
    {
        var paused = new Meter(40, null, At(40));

        var (change, resumed) = MeteringRules.Next(true, paused, Flowing(60, 60), Flowing(0, 60), At(60.5), Grace, DatabaseLag);

        Assert.Equal((MeterChange.Resumed, new Meter(40, At(60), null)), (change, resumed));
        Assert.Equal(50, MeteringRules.BilledSeconds(resumed, Flowing(60, 70), Flowing(0, 70), At(71)));
    }

    [Fact]
    public void A_return_after_the_grace_ends_the_call_without_billing_the_time_away()
    {
        var paused = new Meter(40, null, At(40));

        var (change, meter) = MeteringRules.Next(true, paused, Flowing(71, 71), Flowing(0, 71), At(71), Grace, DatabaseLag);

        Assert.Equal((MeterChange.ConnectionLost, 40L), (change, meter.MeteredSeconds));
    }

    [Fact]
    public void A_restart_that_nobody_wrote_down_closes_the_stretch_at_the_last_confirmation_before_it()
    {
        // The node died at 50 s having written the student's confirmation of 45 s; the student's
        // confirmations arrive again at 58 s on a new process, whose memory begins there.
        var meter = new Meter(0, At(0), null);
        var student = new PartyMedia(At(58), At(58), At(45), Live: true);
        var teacher = new PartyMedia(At(0), At(46), null, Live: false);

        var (change, next) = MeteringRules.Next(true, meter, student, teacher, At(58), Grace, DatabaseLag);

        // The teacher's run is known only from the database, 12 s old: not fresh enough to bill again.
        Assert.Equal((MeterChange.Paused, new Meter(45, null, At(45))), (change, next));
        var bothBack = new PartyMedia(At(59), At(59), null, Live: true);
        Assert.Equal((MeterChange.Resumed, new Meter(45, At(59), null)),
            MeteringRules.Next(true, next, student with { ConfirmedAt = At(60) }, bothBack, At(60), Grace, DatabaseLag));
    }

    [Fact]
    public void A_restart_longer_than_the_grace_ends_the_call_connection_lost()
    {
        var meter = new Meter(0, At(0), null);
        var student = new PartyMedia(At(140), At(140), At(45), Live: true);
        var teacher = new PartyMedia(At(140), At(140), At(46), Live: true);

        var (change, next) = MeteringRules.Next(true, meter, student, teacher, At(140), Grace, DatabaseLag);

        Assert.Equal((MeterChange.ConnectionLost, 45L), (change, next.MeteredSeconds));
    }

    [Fact]
    public void A_run_known_only_from_the_database_keeps_billing_open_for_a_flush_interval_but_never_bills_past_its_stamp()
    {
        var meter = new Meter(0, At(0), null);
        var otherNode = new PartyMedia(At(0), At(30), null, Live: false);

        var within = MeteringRules.Next(true, meter, Flowing(0, 53), otherNode, At(53), Grace, DatabaseLag);
        var beyond = MeteringRules.Next(true, meter, Flowing(0, 55), otherNode, At(55), Grace, DatabaseLag);

        Assert.Equal(MeterChange.None, within.Change);
        Assert.Equal(30, MeteringRules.BilledSeconds(meter, Flowing(0, 53), otherNode, At(53)));
        Assert.Equal((MeterChange.Paused, new Meter(30, null, At(30))), beyond);
    }
}

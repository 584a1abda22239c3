namespace Callern.Platform.Calls;

/// <summary>The cadence of media confirmations and the limits the platform holds them to (docs/calls.md, "Metering").</summary>
public static class MediaConfirmationRules
{
    /// <summary>
    /// How often each party's client confirms the media it receives. The over-billing bound is one
    /// interval plus the client's clock error (docs/calls.md), so it stays under 5 s.
    /// </summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(4);

    /// <summary>A confirmation sooner than this after the caller's previous one is refused (<c>confirmation_too_fast</c>).</summary>
    public static readonly TimeSpan MinSpacing = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A party with no confirmation of media for this long has lapsed: billing pauses, back at the
    /// party's last confirmation. Two intervals and a second, so one late or lost confirmation does not pause a call.
    /// </summary>
    public static readonly TimeSpan LapseAfter = TimeSpan.FromSeconds(9);

    /// <summary>How far ahead of the platform's clock a confirmation's sample time may be (<c>confirmation_in_future</c>).</summary>
    public static readonly TimeSpan ClockSlack = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A confirmation sampled longer ago than this was held back (buffered through a reconnect) and
    /// says nothing about now: refused as <c>confirmation_stale</c>, not counted.
    /// </summary>
    public static TimeSpan StaleAfter => LapseAfter;
}

/// <summary>What the platform knows of one party's media: the run of confirmations it is in, if any.</summary>
/// <param name="FlowingSince">When the party's current run of growing confirmations began; null while its media is not confirmed.</param>
/// <param name="ConfirmedAt">The party's latest confirmation of media.</param>
/// <param name="ConfirmedBeforeRun">The party's last confirmation before its current run began, when this node saw that run begin.</param>
/// <param name="Live">
/// Known from this node's own memory, fresh to the second: a run counts as flowing for
/// <see cref="MediaConfirmationRules.LapseAfter"/> after its last confirmation. Known only from the
/// database, whose stamps may be a flush interval old, a run keeps billing open for
/// that much longer (billing still stops at the stamp) but never reopens billing unless fresh.
/// </param>
public readonly record struct PartyMedia(DateTimeOffset? FlowingSince, DateTimeOffset? ConfirmedAt, DateTimeOffset? ConfirmedBeforeRun, bool Live);

/// <summary>A call's billing after <see cref="MeteringRules.Next"/>: closed seconds, the open stretch, and the pause.</summary>
public readonly record struct Meter(long MeteredSeconds, DateTimeOffset? MeteringSince, DateTimeOffset? PausedAt);

public enum MeterChange
{
    None,
    /// <summary>Both parties confirmed media for the first time: the call is connected and billing starts.</summary>
    Connected,
    Paused,
    Resumed,
    /// <summary>Media was not confirmed again within the grace after billing paused.</summary>
    ConnectionLost,
}

/// <summary>
/// The metering rule as a pure function. A second is billed only when both parties' confirmations
/// cover it: billing runs while both parties' runs of confirmations are live, and a stretch of
/// billing closes at the earlier of the two parties' last confirmations (never at the moment a
/// server notices). The reconnect grace counts from that moment, whoever evaluates the call and
/// whenever; billing reopens only when both runs are live again within it.
/// </summary>
public static class MeteringRules
{
    /// <param name="connected">Whether the call is connected (else accepted, waiting for its first two-way media).</param>
    /// <param name="meter">Billing as the database has it.</param>
    /// <param name="databaseLag">How old a stamp known only from the database may be (the flush interval).</param>
    public static (MeterChange Change, Meter Meter) Next(
        bool connected, Meter meter, PartyMedia student, PartyMedia teacher, DateTimeOffset now, TimeSpan grace, TimeSpan databaseLag)
    {
        var bothLive = IsFlowing(student, now, TimeSpan.Zero) && IsFlowing(teacher, now, TimeSpan.Zero);
        if (!connected)
        {
            return bothLive ? (MeterChange.Connected, new Meter(0, now, null)) : (MeterChange.None, meter);
        }
        var runsBegan = Latest(student.FlowingSince, teacher.FlowingSince);
        if (meter.MeteringSince is { } since)
        {
            var stillBilling = IsFlowing(student, now, databaseLag) && IsFlowing(teacher, now, databaseLag);
            // A run that began after the stretch opened means its party's media stopped in between
            // (a restart of the node, a lapse nobody wrote down): the stretch ended at that party's
            // last confirmation before the run.
            var gapAt = Earliest(GapStart(student, since), GapStart(teacher, since));
            if (stillBilling && gapAt is null)
            {
                return (MeterChange.None, meter);
            }
            var closedAt = Clamp(Earliest(gapAt, Earliest(student.ConfirmedAt, teacher.ConfirmedAt)) ?? since, since, now);
            var closed = new Meter(meter.MeteredSeconds + WholeSeconds(closedAt - since), null, closedAt);
            if (!(bothLive && gapAt is not null))
            {
                return closedAt + grace <= now ? (MeterChange.ConnectionLost, closed) : (MeterChange.Paused, closed);
            }
            // Both are back already: the stretch reopens when the later of the two runs began.
            return runsBegan!.Value > closedAt + grace
                ? (MeterChange.ConnectionLost, closed)
                : (MeterChange.None, closed with { MeteringSince = Clamp(runsBegan.Value, closedAt, now), PausedAt = null });
        }
        var pausedAt = meter.PausedAt ?? now;
        if (bothLive)
        {
            var resumeAt = Clamp(runsBegan!.Value, pausedAt, now);
            return resumeAt > pausedAt + grace
                ? (MeterChange.ConnectionLost, meter)
                : (MeterChange.Resumed, meter with { MeteringSince = resumeAt, PausedAt = null });
        }
        return pausedAt + grace <= now ? (MeterChange.ConnectionLost, meter) : (MeterChange.None, meter);
    }

    /// <summary>Seconds billed so far: closed stretches plus the open one, up to what both parties' confirmations cover.</summary>
    public static long BilledSeconds(Meter meter, PartyMedia student, PartyMedia teacher, DateTimeOffset now) =>
        meter.MeteredSeconds + (meter.MeteringSince is { } since
            ? WholeSeconds(Clamp(Earliest(student.ConfirmedAt, teacher.ConfirmedAt) ?? since, since, now) - since)
            : 0);

    /// <summary>
    /// Until when the party counts as flowing (null: not in a run): its last confirmation plus the
    /// lapse. A run known only from the database may be <paramref name="databaseLag"/> older, since
    /// its node writes confirmations that often.
    /// </summary>
    public static DateTimeOffset? FlowingUntil(PartyMedia party, TimeSpan databaseLag) =>
        party.FlowingSince is not null && party.ConfirmedAt is { } at
            ? at + MediaConfirmationRules.LapseAfter + (party.Live ? TimeSpan.Zero : databaseLag)
            : null;

    private static bool IsFlowing(PartyMedia party, DateTimeOffset now, TimeSpan databaseLag) =>
        FlowingUntil(party, databaseLag) is { } until && now <= until;

    private static DateTimeOffset? GapStart(PartyMedia party, DateTimeOffset stretchSince) =>
        party.FlowingSince is { } runSince && runSince > stretchSince ? party.ConfirmedBeforeRun ?? stretchSince : null;

    private static long WholeSeconds(TimeSpan span) => Math.Max(0, (long)span.TotalSeconds);

    private static DateTimeOffset Clamp(DateTimeOffset value, DateTimeOffset min, DateTimeOffset max) =>
        value < min ? min : value > max ? max : value;

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a < b ? a : b;

    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a > b ? a : b;
}

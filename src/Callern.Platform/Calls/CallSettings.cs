using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;

namespace Callern.Platform.Calls;

public enum RingStrategy
{
    /// <summary>One teacher at a time, best first; decline or timeout moves to the next.</summary>
    Sequential,
    /// <summary>The best few at once; the first accept wins and the others are revoked.</summary>
    Parallel,
}

public enum BillingRounding
{
    PerSecond,
    /// <summary>Every started minute is billed whole.</summary>
    PerStartedMinute,
}

/// <summary>A tenant's rules for matching, ringing, metering and billing calls.</summary>
public sealed record CallSettings
{
    public RingStrategy RingStrategy { get; init; } = RingStrategy.Sequential;
    /// <summary>How many teachers ring at once under the parallel strategy.</summary>
    public int ParallelRingCount { get; init; } = 3;
    /// <summary>An offer not answered within this is declined for the teacher (auto-decline).</summary>
    public int OfferTimeoutSeconds { get; init; } = 30;
    /// <summary>A teacher who lets this many offers in a row time out is set away.</summary>
    public int MissedOffersBeforeAway { get; init; } = 3;
    /// <summary>How many teachers one request tries before it waits in the queue.</summary>
    public int MaxOffersPerRequest { get; init; } = 10;
    /// <summary>A queued request gives up after this.</summary>
    public int MaxQueueWaitSeconds { get; init; } = 300;
    /// <summary>From accept until both sides report media; beyond it the call ends as setup_failed at no charge.</summary>
    public int SetupTimeoutSeconds { get; init; } = 60;
    /// <summary>A participant whose connection drops may come back within this; billing pauses meanwhile.</summary>
    public int ReconnectGraceSeconds { get; init; } = 30;
    public int MaxCallMinutes { get; init; } = 120;
    /// <summary>Remaining minutes at which the student is warned.</summary>
    public IReadOnlyList<int> WarningMinutes { get; init; } = [5, 2, 1];
    public BillingRounding Rounding { get; init; } = BillingRounding.PerSecond;
    /// <summary>A connected call is billed at least this (capped by what was held).</summary>
    public int MinimumChargeSeconds { get; init; } = 0;
    /// <summary>A call that fails (connection lost) within this many metered seconds costs nothing.</summary>
    public int NoChargeUnderSeconds { get; init; } = 10;
    /// <summary>Whether the teacher's timer events carry the student's remaining balance.</summary>
    public bool ShowBalanceToTeacher { get; init; }
    public RankingWeights Ranking { get; init; } = new();

    public void Validate(FieldErrors errors, string prefix)
    {
        errors.Check(Enum.IsDefined(RingStrategy), prefix + "ringStrategy", "sequential or parallel.")
            .Check(ParallelRingCount is >= 2 and <= 10, prefix + "parallelRingCount", "Between 2 and 10.")
            .Check(OfferTimeoutSeconds is >= 5 and <= 120, prefix + "offerTimeoutSeconds", "Between 5 and 120.")
            .Check(MissedOffersBeforeAway is >= 1 and <= 20, prefix + "missedOffersBeforeAway", "Between 1 and 20.")
            .Check(MaxOffersPerRequest is >= 1 and <= 50, prefix + "maxOffersPerRequest", "Between 1 and 50.")
            .Check(MaxQueueWaitSeconds is >= 0 and <= 3600, prefix + "maxQueueWaitSeconds", "Between 0 and 3600.")
            .Check(SetupTimeoutSeconds is >= 10 and <= 300, prefix + "setupTimeoutSeconds", "Between 10 and 300.")
            .Check(ReconnectGraceSeconds is >= 5 and <= 300, prefix + "reconnectGraceSeconds", "Between 5 and 300.")
            .Check(MaxCallMinutes is >= 1 and <= 600, prefix + "maxCallMinutes", "Between 1 and 600.")
            .Check(WarningMinutes is not null && WarningMinutes.Count <= 5 && WarningMinutes.All(m => m is >= 1 and <= 60),
                prefix + "warningMinutes", "At most 5 values between 1 and 60.")
            .Check(Enum.IsDefined(Rounding), prefix + "rounding", "perSecond or perStartedMinute.")
            .Check(MinimumChargeSeconds is >= 0 and <= 3600, prefix + "minimumChargeSeconds", "Between 0 and 3600.")
            .Check(NoChargeUnderSeconds is >= 0 and <= 300, prefix + "noChargeUnderSeconds", "Between 0 and 300.")
            .Check(Ranking is not null && RankingWeightsAreValid(Ranking), prefix + "ranking", "Weights between 0 and 100; prior count 0–1000; prior rating 1–5.");
    }

    private static bool RankingWeightsAreValid(RankingWeights w) =>
        new[] { w.Accent, w.Specialization, w.Rating, w.OwnRating, w.TimeZone, w.Acceptance, w.Fairness, w.PreferredTeacher }.All(x => x is >= 0 and <= 100)
        && w.PriorRatingCount is >= 0 and <= 1000 && w.PriorRating is >= 1 and <= 5 && w.FairnessSaturationMinutes is > 0 and <= 1440;
}

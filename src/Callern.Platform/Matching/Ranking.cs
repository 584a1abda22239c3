using Callern.Platform.People;

namespace Callern.Platform.Matching;

/// <summary>What a student asks for. <see cref="Language"/> is a base or full BCP 47 tag; accent is a full tag.</summary>
public sealed record MatchRequest(
    string Language, string Level, string? Accent, string? Specialization, IReadOnlyList<string> PreferredTeachers, string StudentTimeZone);

/// <summary>A teacher with the facts ranking needs, gathered by the caller from their owners.</summary>
public sealed record CandidateTeacher(
    string TeacherId,
    IReadOnlyList<TeacherLanguage> Languages,
    IReadOnlyList<string> Specializations,
    string TimeZone,
    bool Available,
    bool Blocked,
    int RatingCount,
    double RatingSum,
    double? StudentOwnRating,
    int OffersReceived,
    int OffersAccepted,
    DateTimeOffset? IdleSince);

/// <summary>
/// Per-tenant weights of the soft score. Each factor is scaled to [0, 1] and multiplied by its
/// weight; the score is their sum, so the breakdown explains it exactly.
/// </summary>
public sealed record RankingWeights
{
    public double Accent { get; init; } = 3;
    public double Specialization { get; init; } = 2;
    public double Rating { get; init; } = 3;
    public double OwnRating { get; init; } = 2;
    public double TimeZone { get; init; } = 0.5;
    public double Acceptance { get; init; } = 1;
    public double Fairness { get; init; } = 1.5;
    public double PreferredTeacher { get; init; } = 4;

    /// <summary>The prior of the Bayesian rating: as if every teacher had this many ratings of <see cref="PriorRating"/>.</summary>
    public double PriorRatingCount { get; init; } = 10;
    public double PriorRating { get; init; } = 4.0;

    /// <summary>Idle time after which fairness gives its full weight.</summary>
    public double FairnessSaturationMinutes { get; init; } = 60;
}

/// <summary>Each factor's contribution to the score (weight × factor in [0, 1]).</summary>
public readonly record struct ScoreBreakdown(
    double Accent, double Specialization, double Rating, double OwnRating, double TimeZone, double Acceptance, double Fairness, double PreferredTeacher);

public sealed record RankedCandidate(string TeacherId, double Score, ScoreBreakdown Breakdown);

/// <summary>Hard filters, then an explainable weighted score. Pure: no I/O, time passed in.</summary>
public static class Ranking
{
    // The acceptance rate starts from this prior (as if from PriorOffers offers) so one miss does not sink a new teacher.
    private const double PriorAcceptance = 0.8;
    private const double PriorOffers = 5;

    /// <summary>
    /// Ranks the candidates that pass the hard filters, best first, and explains each score. Only
    /// the best <paramref name="limit"/> are built into results: ringing needs the top few, and
    /// scoring thousands of teachers must not allocate per teacher (ranking runs on every request).
    /// </summary>
    public static IReadOnlyList<RankedCandidate> Rank(
        MatchRequest request, IReadOnlyList<CandidateTeacher> candidates, RankingWeights weights, DateTimeOffset now, int limit = int.MaxValue)
    {
        var offsets = new Dictionary<string, double>(StringComparer.Ordinal);
        var studentOffset = OffsetHours(request.StudentTimeZone, now, offsets);
        var preferred = request.PreferredTeachers.Count == 0 ? null : request.PreferredTeachers.ToHashSet(StringComparer.Ordinal);
        var scored = new Scored[candidates.Count];
        var count = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            var teacher = candidates[i];
            if (teacher.Available && !teacher.Blocked && Teaches(teacher, request.Language, request.Level))
            {
                var breakdown = Explain(teacher, request, preferred, weights, now, studentOffset, offsets);
                scored[count++] = new Scored(i, Math.Round(Sum(breakdown), 6), IdleMinutes(teacher, now));
            }
        }
        // Equal scores: the longest idle first, then a stable order by id.
        Array.Sort(scored, 0, count, Comparer<Scored>.Create((a, b) =>
        {
            var byScore = b.Score.CompareTo(a.Score);
            if (byScore != 0)
            {
                return byScore;
            }
            var byIdle = b.Idle.CompareTo(a.Idle);
            return byIdle != 0 ? byIdle : string.CompareOrdinal(candidates[a.Index].TeacherId, candidates[b.Index].TeacherId);
        }));
        var results = new List<RankedCandidate>(Math.Min(count, limit));
        for (var i = 0; i < count && i < limit; i++)
        {
            var teacher = candidates[scored[i].Index];
            results.Add(new RankedCandidate(teacher.TeacherId, scored[i].Score,
                Explain(teacher, request, preferred, weights, now, studentOffset, offsets)));
        }
        return results;
    }

    private readonly record struct Scored(int Index, double Score, double Idle);

    private static ScoreBreakdown Explain(
        CandidateTeacher teacher, MatchRequest request, HashSet<string>? preferred, RankingWeights weights, DateTimeOffset now,
        double studentOffset, Dictionary<string, double> offsets) => new(
        weights.Accent * AccentFactor(teacher, request.Accent),
        weights.Specialization * (request.Specialization is { } s && teacher.Specializations.Contains(s) ? 1 : 0),
        weights.Rating * Normalize(BayesianRating(teacher, weights)),
        weights.OwnRating * (teacher.StudentOwnRating is { } own ? Normalize(own) : 0.5),
        weights.TimeZone * (1 - Math.Min(12, Math.Abs(OffsetHours(teacher.TimeZone, now, offsets) - studentOffset)) / 12),
        weights.Acceptance * ((teacher.OffersAccepted + PriorAcceptance * PriorOffers) / (teacher.OffersReceived + PriorOffers)),
        weights.Fairness * Math.Min(1, IdleMinutes(teacher, now) / weights.FairnessSaturationMinutes),
        weights.PreferredTeacher * (preferred?.Contains(teacher.TeacherId) == true ? 1 : 0));

    private static double Sum(ScoreBreakdown b) =>
        b.Accent + b.Specialization + b.Rating + b.OwnRating + b.TimeZone + b.Acceptance + b.Fairness + b.PreferredTeacher;

    // Never called: idle since forever, the fairest choice.
    private static double IdleMinutes(CandidateTeacher teacher, DateTimeOffset now) =>
        teacher.IdleSince is { } since ? Math.Max(0, (now - since).TotalMinutes) : double.MaxValue;

    /// <summary>(C·m + Σ ratings) / (C + n): one 5-star review does not beat fifty 4.8s.</summary>
    public static double BayesianRating(CandidateTeacher teacher, RankingWeights weights) =>
        (weights.PriorRatingCount * weights.PriorRating + teacher.RatingSum) / (weights.PriorRatingCount + teacher.RatingCount);

    /// <summary>Teaches the language (en matches en-GB; en-GB matches only en-GB) at that level.</summary>
    public static bool Teaches(CandidateTeacher teacher, string language, string level)
    {
        foreach (var taught in teacher.Languages)
        {
            if (SameLanguage(taught.Language, language) && taught.Levels?.Contains(level) == true)
            {
                return true;
            }
        }
        return false;
    }

    private static double AccentFactor(CandidateTeacher teacher, string? accent)
    {
        if (accent is null)
        {
            return 0;
        }
        foreach (var taught in teacher.Languages)
        {
            if (string.Equals(taught.Language, accent, StringComparison.Ordinal))
            {
                return 1;
            }
        }
        return 0;
    }

    private static bool SameLanguage(string? taught, string wanted) =>
        taught is not null && (taught == wanted
            || (taught.Length > wanted.Length && taught.StartsWith(wanted, StringComparison.Ordinal) && taught[wanted.Length] == '-'));

    private static double Normalize(double rating) => Math.Clamp((rating - 1) / 4, 0, 1);

    private static double OffsetHours(string zone, DateTimeOffset now, Dictionary<string, double> cache)
    {
        if (!cache.TryGetValue(zone, out var hours))
        {
            hours = TimeZoneInfo.TryFindSystemTimeZoneById(zone, out var info) ? info.GetUtcOffset(now).TotalHours : 0;
            cache[zone] = hours;
        }
        return hours;
    }
}

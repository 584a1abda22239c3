using Callern.Platform.Matching;
using Callern.Platform.People;

namespace Callern.Platform.Tests.Matching;

public sealed class RankingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly RankingWeights Weights = new();

    private static CandidateTeacher Teacher(
        string id, string language = "en-GB", string[]? levels = null, string[]? specializations = null, string zone = "Europe/London",
        bool available = true, bool blocked = false, int ratingCount = 0, double ratingSum = 0, double? own = null,
        int offers = 0, int accepted = 0, double idleMinutes = 30) =>
        new(id, [new TeacherLanguage(language, levels ?? ["A1", "A2", "B1", "B2", "C1", "C2"])], specializations ?? [], zone,
            available, blocked, ratingCount, ratingSum, own, offers, accepted, Now.AddMinutes(-idleMinutes));

    private static MatchRequest Request(string language = "en", string level = "B1", string? accent = null, string? specialization = null,
        string[]? preferred = null, string zone = "Europe/London") =>
        new(language, level, accent, specialization, preferred ?? [], zone);

    private static List<string> Ids(MatchRequest request, params CandidateTeacher[] teachers) =>
        Ranking.Rank(request, teachers, Weights, Now).Select(c => c.TeacherId).ToList();

    [Fact]
    public void Hard_filters_drop_teachers_who_do_not_teach_the_language_or_level_are_away_or_blocked()
    {
        var ids = Ids(Request(level: "C1"),
            Teacher("ok"),
            Teacher("spanish", language: "es-ES"),
            Teacher("beginners-only", levels: ["A1", "A2"]),
            Teacher("away", available: false),
            Teacher("blocked", blocked: true));

        Assert.Equal(["ok"], ids);
    }

    [Fact]
    public void A_base_language_matches_every_accent_but_a_full_tag_only_itself()
    {
        Assert.Equal(2, Ids(Request(language: "en"), Teacher("gb"), Teacher("us", language: "en-US")).Count);
        Assert.Equal(["us"], Ids(Request(language: "en-US"), Teacher("gb"), Teacher("us", language: "en-US")));
        Assert.Empty(Ids(Request(language: "e"), Teacher("gb")));
    }

    [Fact]
    public void The_preferred_accent_and_specialization_rank_first()
    {
        Assert.Equal(["gb", "us"], Ids(Request(accent: "en-GB"), Teacher("us", language: "en-US"), Teacher("gb")));
        Assert.Equal(["biz", "kids"], Ids(Request(specialization: "business"),
            Teacher("kids", specializations: ["kids"]), Teacher("biz", specializations: ["business"])));
    }

    [Fact]
    public void One_five_star_review_does_not_beat_fifty_reviews_averaging_four_point_eight()
    {
        var single = Teacher("single", ratingCount: 1, ratingSum: 5);
        var proven = Teacher("proven", ratingCount: 50, ratingSum: 50 * 4.8);

        Assert.Equal(["proven", "single"], Ids(Request(), single, proven));
        Assert.True(Ranking.BayesianRating(proven, Weights) > Ranking.BayesianRating(single, Weights));
        Assert.InRange(Ranking.BayesianRating(single, Weights), 4.0, 4.1);
    }

    [Fact]
    public void The_students_own_low_rating_pushes_a_teacher_down_and_a_high_one_up()
    {
        Assert.Equal(["liked", "unrated", "disliked"], Ids(Request(),
            Teacher("disliked", own: 1), Teacher("unrated"), Teacher("liked", own: 5)));
    }

    [Fact]
    public void Among_equals_the_longest_idle_teacher_comes_first()
    {
        Assert.Equal(["idle-50", "idle-20", "idle-5"], Ids(Request(),
            Teacher("idle-5", idleMinutes: 5), Teacher("idle-50", idleMinutes: 50), Teacher("idle-20", idleMinutes: 20)));
    }

    [Fact]
    public void Fairness_saturates_so_idle_time_does_not_outweigh_everything()
    {
        // Two hours idle earns no more than one hour: quality differences still decide.
        Assert.Equal(["good", "idle"], Ids(Request(),
            Teacher("idle", idleMinutes: 600, ratingCount: 40, ratingSum: 40 * 3.0),
            Teacher("good", idleMinutes: 60, ratingCount: 40, ratingSum: 40 * 4.9)));
    }

    [Fact]
    public void A_low_acceptance_rate_costs_rank_but_a_new_teacher_keeps_the_prior()
    {
        Assert.Equal(["reliable", "new", "flaky"], Ids(Request(),
            Teacher("flaky", offers: 20, accepted: 5), Teacher("reliable", offers: 20, accepted: 18), Teacher("new")));
    }

    [Fact]
    public void A_close_time_zone_beats_a_distant_one_all_else_equal()
    {
        Assert.Equal(["paris", "tokyo"], Ids(Request(zone: "Europe/Berlin"),
            Teacher("tokyo", zone: "Asia/Tokyo"), Teacher("paris", zone: "Europe/Paris")));
    }

    [Fact]
    public void A_preferred_teacher_leads_and_the_breakdown_sums_to_the_score()
    {
        var ranked = Ranking.Rank(Request(accent: "en-GB", preferred: ["chosen"]),
            [Teacher("star", ratingCount: 100, ratingSum: 500), Teacher("chosen", language: "en-US")], Weights, Now);

        Assert.Equal("chosen", ranked[0].TeacherId);
        foreach (var candidate in ranked)
        {
            var b = candidate.Breakdown;
            Assert.Equal(candidate.Score, b.Accent + b.Specialization + b.Rating + b.OwnRating + b.TimeZone + b.Acceptance + b.Fairness + b.PreferredTeacher, 5);
        }
        Assert.Equal(Weights.PreferredTeacher, ranked[0].Breakdown.PreferredTeacher);
        Assert.Equal(0, ranked[0].Breakdown.Accent);
        Assert.Equal(Weights.Accent, ranked[1].Breakdown.Accent);
    }
}

using Callern.Platform.Matching;

namespace Callern.Platform.Calls;

/// <summary>What matching reads of calls, offers and ratings, as SQL this feature owns (see <see cref="ICallFacts"/>).</summary>
internal sealed class MatchingFacts : ICallFacts
{
    public string TeacherBusySql => OfferStore.TeacherBusySql;
    public string OwnRatingsSql => RatingStore.OwnRatingsSql;
}

namespace Callern.Platform.Matching;

/// <summary>
/// What matching reads of calls, offers and ratings, which belong to the calls feature above it: SQL
/// fragments that feature supplies (registered by <c>AddCalls</c>), so that the snapshot of available
/// teachers and a student's facts stay one statement each.
/// </summary>
public interface ICallFacts
{
    /// <summary>A condition, true when teacher <c>t.id</c> of tenant <c>t.tenant_id</c> holds an open offer or is in a live call.</summary>
    string TeacherBusySql { get; }

    /// <summary>A <c>SELECT</c> of (teacher id, average stars as float8), per teacher, of the ratings student <c>@studentId</c> of tenant <c>@tenantId</c> gave.</summary>
    string OwnRatingsSql { get; }
}

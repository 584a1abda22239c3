using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Callern.Platform.Webhooks;

/// <summary><c>GET /v1/events</c>: the school's event log, for catching up by polling with or without webhooks.</summary>
public static class EventsApi
{
    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/events").WithTags("Webhooks").RequireAuthorization(Policies.AdminOrService);
        group.MapGet("/", List).WithName("ListEvents")
            .WithSummary("The school's events in the order they were committed (as webhooks carry them), after a cursor; filter by type and subject (for example call:{id}). A reader polling with the last page's cursor never misses an event. Kept for the retention setting (30 days by default).");
        return group;
    }

    private static async Task<Results<Ok<Page<PlatformEvent>>, ValidationProblem>> List(
        HttpContext http, EventLog log, string? cursor, int? limit, string? type, string? subject)
    {
        var errors = new FieldErrors();
        var (afterText, size) = Cursor.Read(cursor, limit, errors);
        LogPosition? after = null;
        if (afterText is not null)
        {
            errors.Check(LogPosition.TryParse(afterText, out var position), "cursor", "Not a cursor returned by this list.");
            after = position;
        }
        errors.Check(type is null || EventTypes.All.Contains(type), "type", "An event type (docs/webhooks.md).");
        errors.Check(subject is null || subject.Length is > 0 and <= 300 && StorableText.IsStorable(subject), "subject", "A subject such as call:{id}.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await log.ListAsync(http.User.RequiredCaller().TenantId, after, type, subject, size + 1);
        var page = Cursor.ToPage(rows, size, r => r.At.ToString());
        return TypedResults.Ok(new Page<PlatformEvent>(page.Items.Select(r => r.Event).ToList(), page.NextCursor));
    }
}

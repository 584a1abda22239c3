using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Webhooks;

public sealed record CreateWebhookEndpointRequest(string? Url, IReadOnlyList<string>? Events, string? Description);

public sealed record UpdateWebhookEndpointRequest(string? Url, IReadOnlyList<string>? Events, string? Description, bool? Enabled);

/// <summary>Events to send an endpoint again: those created from <paramref name="From"/> to <paramref name="To"/> (each end open when absent), optionally of some types.</summary>
public sealed record ReplayRequest(DateTimeOffset? From, DateTimeOffset? To, IReadOnlyList<string>? Types);

public sealed record ReplayResult(int Queued);

public sealed record WebhookAttempt(Guid Id, Guid EventId, DateTimeOffset AttemptedAt, int? StatusCode, string? Error, int DurationMs, string? ResponseSnippet);

/// <summary>The school's webhook endpoints (admins and the school's backend): receivers, secrets, the delivery log and replays.</summary>
public static class WebhooksApi
{
    public const int MaxDescription = 500;
    public const int MaxReplay = 10_000;

    public static RouteGroupBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/webhook-endpoints").WithTags("Webhooks").RequireAuthorization(Policies.AdminOrService);
        group.MapPost("/", Create).WithName("CreateWebhookEndpoint")
            .WithSummary("Adds a receiver for the school's events (all types, or those listed); the answer holds its signing secret, shown once.");
        group.MapGet("/", List).WithName("ListWebhookEndpoints").WithSummary("The school's webhook endpoints, with cursor pagination.");
        group.MapGet("/{endpointId:guid}", Get).WithName("GetWebhookEndpoint").WithSummary("One webhook endpoint.");
        group.MapPut("/{endpointId:guid}", Update).WithName("UpdateWebhookEndpoint")
            .WithSummary("Replaces the endpoint's URL, event types, description and enabled state. Enabling a disabled endpoint resumes its waiting deliveries.");
        group.MapDelete("/{endpointId:guid}", Delete).WithName("DeleteWebhookEndpoint").WithSummary("Removes the endpoint with its pending deliveries and its delivery log.");
        group.MapPost("/{endpointId:guid}/secret", RotateSecret).WithName("RotateWebhookSecret")
            .WithSummary("A new signing secret, shown once; the previous one signs too (two signatures per delivery) for 24 hours.");
        group.MapGet("/{endpointId:guid}/attempts", Attempts).WithName("ListWebhookAttempts")
            .WithSummary("The endpoint's delivery log, newest first: each attempt's status, error, latency and the start of the answer.");
        group.MapPost("/{endpointId:guid}/replay", Replay).WithName("ReplayWebhookEvents")
            .WithSummary($"Sends the endpoint again the kept events of a range (at most {MaxReplay:N0} per request), in order per subject.");
        return group;
    }

    private static async Task<Results<Created<WebhookEndpointWithSecret>, ValidationProblem>> Create(
        CreateWebhookEndpointRequest request, HttpContext http, WebhookEndpointStore store, WebhookSender sender)
    {
        var errors = await ValidateAsync(request.Url, request.Events, request.Description, sender, http.RequestAborted);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var created = await store.CreateAsync(http.User.RequiredCaller().TenantId, request.Url!, Distinct(request.Events), request.Description);
        return created is null
            ? new FieldErrors().Add("url", $"The school has {WebhookEndpointStore.MaxPerTenant} endpoints already, the most it may: remove one first.").ToProblem()
            : TypedResults.Created($"/v1/webhook-endpoints/{created.Endpoint.Id}", created);
    }

    private static async Task<Results<Ok<Page<WebhookEndpoint>>, ValidationProblem>> List(HttpContext http, WebhookEndpointStore store, string? cursor, int? limit)
    {
        var errors = new FieldErrors();
        var (after, size) = Cursor.ReadGuid(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await store.ListAsync(http.User.RequiredCaller().TenantId, after, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, e => e.Id.ToString()));
    }

    private static async Task<Results<Ok<WebhookEndpoint>, NotFound>> Get(Guid endpointId, HttpContext http, WebhookEndpointStore store) =>
        await store.GetAsync(http.User.RequiredCaller().TenantId, endpointId) is { } endpoint ? TypedResults.Ok(endpoint) : TypedResults.NotFound();

    private static async Task<Results<Ok<WebhookEndpoint>, NotFound, ValidationProblem>> Update(
        Guid endpointId, UpdateWebhookEndpointRequest request, HttpContext http, WebhookEndpointStore store, WebhookSender sender)
    {
        var errors = await ValidateAsync(request.Url, request.Events, request.Description, sender, http.RequestAborted);
        errors.Check(request.Enabled is not null, "enabled", "Required: true or false.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        return await store.UpdateAsync(http.User.RequiredCaller().TenantId, endpointId, request.Url!, Distinct(request.Events), request.Description, request.Enabled!.Value)
            is { } updated ? TypedResults.Ok(updated) : TypedResults.NotFound();
    }

    private static async Task<Results<NoContent, NotFound>> Delete(Guid endpointId, HttpContext http, WebhookEndpointStore store) =>
        await store.DeleteAsync(http.User.RequiredCaller().TenantId, endpointId) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Ok<WebhookEndpointWithSecret>, NotFound>> RotateSecret(Guid endpointId, HttpContext http, WebhookEndpointStore store) =>
        await store.RotateSecretAsync(http.User.RequiredCaller().TenantId, endpointId) is { } rotated ? TypedResults.Ok(rotated) : TypedResults.NotFound();

    private static async Task<Results<Ok<Page<WebhookAttempt>>, NotFound, ValidationProblem>> Attempts(
        Guid endpointId, HttpContext http, WebhookEndpointStore store, NpgsqlDataSource db, string? cursor, int? limit)
    {
        var errors = new FieldErrors();
        var (before, size) = Cursor.ReadGuid(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var tenantId = http.User.RequiredCaller().TenantId;
        if (await store.GetAsync(tenantId, endpointId) is null)
        {
            return TypedResults.NotFound();
        }
        await using var connection = await db.OpenConnectionAsync();
        var rows = await DeliveryStore.ListAttemptsAsync(connection, tenantId, endpointId, before, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, a => a.Id.ToString()));
    }

    private static async Task<Results<Ok<ReplayResult>, NotFound, ValidationProblem>> Replay(
        Guid endpointId, ReplayRequest request, HttpContext http, WebhookEndpointStore store, NpgsqlDataSource db, TimeProvider time)
    {
        var errors = CheckTypes(new FieldErrors(), request.Types, "types")
            .Check(request.From is null || request.To is null || request.From <= request.To, "to", "Not before from.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var tenantId = http.User.RequiredCaller().TenantId;
        if (await store.GetAsync(tenantId, endpointId) is null)
        {
            return TypedResults.NotFound();
        }
        await using var connection = await db.OpenConnectionAsync();
        var queued = await DeliveryStore.ReplayAsync(connection, tenantId, endpointId, request.From, request.To, Distinct(request.Types), MaxReplay, time.GetUtcNow().ToDatabasePrecision());
        return TypedResults.Ok(new ReplayResult(queued));
    }

    private static async Task<FieldErrors> ValidateAsync(string? url, IReadOnlyList<string>? events, string? description, WebhookSender sender, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Optional(description, "description", MaxDescription);
        errors.Check(description is null || StorableText.IsStorable(description), "description", "Text without NUL or other control characters.");
        CheckTypes(errors, events, "events");
        if (ReceiverAddresses.Refusal(url, sender.AllowsLocalReceivers) is { } refusal)
        {
            return errors.Add("url", refusal);
        }
        return errors.Check(await ReceiverAddresses.ResolvesPubliclyAsync(new Uri(url!), sender.AllowsLocalReceivers, cancellationToken), "url",
            "The host must resolve, and only to public addresses (loopback, private and link-local ones are refused outside Development).");
    }

    private static FieldErrors CheckTypes(FieldErrors errors, IReadOnlyList<string>? types, string field) =>
        errors.Check(types is null || types.Count > 0 && types.All(t => t is not null && EventTypes.All.Contains(t)), field,
            $"A non-empty list of event types ({string.Join(", ", EventTypes.All.Order(StringComparer.Ordinal))}); leave it out for all.");

    private static IReadOnlyList<string>? Distinct(IReadOnlyList<string>? types) => types?.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}

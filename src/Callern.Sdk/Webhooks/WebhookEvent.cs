using System.Text.Json;

namespace Callern.Sdk.Webhooks;

/// <summary>
/// The envelope of every webhook the platform sends, as <see cref="WebhookVerifier.Verify(string, string?, string?, string?)"/>
/// returns it once the signature is verified.
/// </summary>
/// <param name="Id">The event's id (also the <c>webhook-id</c> header). A redelivery carries the same id: act on each id once.</param>
/// <param name="Type">What happened, for example <c>call.ended</c>.</param>
/// <param name="Timestamp">When it happened on the platform.</param>
/// <param name="TenantId">The school the event belongs to.</param>
/// <param name="Subject">What the event is about, as <c>kind:id</c> (for example <c>call:0195…</c>).</param>
/// <param name="Sequence">
/// The event's number among its subject's events: 1 for the first, without gaps, so a receiver can
/// tell a late or missing delivery from a new one.
/// </param>
/// <param name="Data">The event's own fields, a JSON object whose shape depends on <paramref name="Type"/>.</param>
public sealed record WebhookEvent(
    string Id,
    string Type,
    DateTimeOffset Timestamp,
    string TenantId,
    string Subject,
    long Sequence,
    JsonElement Data);

using System.Text.Json;

namespace Callern.Platform.Webhooks;

/// <summary>
/// An event of the school's event log, as <c>GET /v1/events</c> lists it and as a webhook's body
/// carries it. <paramref name="Sequence"/> numbers the events of one <paramref name="Subject"/>
/// (<c>call:{id}</c>, <c>wallet:{studentId}</c>, <c>teacher:{teacherId}</c>, <c>webhook-endpoint:{id}</c>)
/// from 1 without gaps, over every type.
/// </summary>
public sealed record PlatformEvent(Guid Id, string Type, DateTimeOffset Timestamp, Guid TenantId, string Subject, long Sequence, JsonElement Data);

/// <summary>The event types, as the event log and the endpoints' filters name them (docs/webhooks.md).</summary>
public static class EventTypes
{
    public const string CallRequested = "call.requested";
    public const string CallRinging = "call.ringing";
    public const string CallAccepted = "call.accepted";
    public const string CallConnected = "call.connected";
    public const string CallPaused = "call.paused";
    public const string CallResumed = "call.resumed";
    public const string CallEnded = "call.ended";
    public const string CallRated = "call.rated";
    public const string WalletPurchase = "wallet.purchase";
    public const string WalletAdjustment = "wallet.adjustment";
    public const string WalletExpired = "wallet.expired";
    public const string TeacherPresence = "teacher.presence";
    public const string EndpointDisabled = "webhook_endpoint.disabled";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        CallRequested, CallRinging, CallAccepted, CallConnected, CallPaused, CallResumed, CallEnded, CallRated,
        WalletPurchase, WalletAdjustment, WalletExpired, TeacherPresence, EndpointDisabled,
    };

    public static string Call(Guid callId) => $"call:{callId}";

    public static string Wallet(string studentId) => $"wallet:{studentId}";

    public static string Teacher(string teacherId) => $"teacher:{teacherId}";

    public static string Endpoint(Guid endpointId) => $"webhook-endpoint:{endpointId}";
}

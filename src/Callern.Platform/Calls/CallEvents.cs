using Callern.Platform.Infrastructure;
using Callern.Platform.Webhooks;
using Npgsql;

namespace Callern.Platform.Calls;

// What a call tells the school's systems (docs/webhooks.md): one event per change, written in the
// transaction of the change, numbered in the call's subject (call:{id}).

public sealed record CallRequestedData(
    Guid CallId, string StudentId, string Language, string Level, string? Accent, string? Specialization, IReadOnlyList<string> PreferredTeachers,
    DateTimeOffset RequestedAt);

public sealed record CallRingingData(Guid CallId, Guid OfferId, string TeacherId, DateTimeOffset ExpiresAt);

public sealed record CallAcceptedData(Guid CallId, string StudentId, string TeacherId, DateTimeOffset AcceptedAt);

public sealed record CallConnectedData(Guid CallId, string StudentId, string TeacherId, DateTimeOffset ConnectedAt);

/// <summary>Billing paused at <paramref name="PausedAt"/> (the last moment both sides confirmed media); the call ends at <paramref name="GraceEndsAt"/> unless media is back.</summary>
public sealed record CallPausedData(Guid CallId, DateTimeOffset PausedAt, DateTimeOffset GraceEndsAt);

public sealed record CallResumedData(Guid CallId, DateTimeOffset ResumedAt);

/// <summary><paramref name="ChargedSeconds"/> is what the student's wallet was charged, once; the teacher earned the same.</summary>
public sealed record CallEndedData(
    Guid CallId, string StudentId, string? TeacherId, string Reason, string EndedBy, DateTimeOffset EndedAt, long BilledSeconds, long ChargedSeconds);

public sealed record CallRatedData(Guid CallId, string StudentId, string TeacherId, int Stars, string? Comment, DateTimeOffset RatedAt);

/// <summary>Writes a call's events through the outbox, in the caller's transaction.</summary>
public sealed class CallEvents(EventOutbox outbox)
{
    internal Task RequestedAsync(NpgsqlTransaction transaction, CallRecord call) =>
        AppendAsync(transaction, call, EventTypes.CallRequested, new CallRequestedData(
            call.Id, call.StudentId, call.Language, call.Level, call.Accent, call.Specialization, call.PreferredTeachers, call.RequestedAt.AsUtc()));

    internal Task RingingAsync(NpgsqlTransaction transaction, CallRecord call, IEnumerable<(Guid OfferId, string TeacherId)> offers, DateTimeOffset expiresAt) =>
        outbox.AppendAsync(transaction, call.TenantId, offers
            .Select(o => new EventDraft(EventTypes.CallRinging, EventTypes.Call(call.Id), new CallRingingData(call.Id, o.OfferId, o.TeacherId, expiresAt)))
            .ToList());

    internal Task AcceptedAsync(NpgsqlTransaction transaction, CallRecord call, string teacherId, DateTimeOffset at) =>
        AppendAsync(transaction, call, EventTypes.CallAccepted, new CallAcceptedData(call.Id, call.StudentId, teacherId, at));

    internal Task ConnectedAsync(NpgsqlTransaction transaction, CallRecord call, DateTimeOffset at) =>
        AppendAsync(transaction, call, EventTypes.CallConnected, new CallConnectedData(call.Id, call.StudentId, call.TeacherId!, at));

    internal Task PausedAsync(NpgsqlTransaction transaction, CallRecord call, DateTimeOffset pausedAt, DateTimeOffset graceEndsAt) =>
        AppendAsync(transaction, call, EventTypes.CallPaused, new CallPausedData(call.Id, pausedAt, graceEndsAt));

    internal Task ResumedAsync(NpgsqlTransaction transaction, CallRecord call, DateTimeOffset at) =>
        AppendAsync(transaction, call, EventTypes.CallResumed, new CallResumedData(call.Id, at));

    internal Task EndedAsync(NpgsqlTransaction transaction, CallRecord call, string reason, string endedBy, DateTimeOffset at, long billed, long charged) =>
        AppendAsync(transaction, call, EventTypes.CallEnded, new CallEndedData(call.Id, call.StudentId, call.TeacherId, reason, endedBy, at, billed, charged));

    internal Task RatedAsync(NpgsqlTransaction transaction, Guid tenantId, CallRatedData rated) =>
        outbox.AppendAsync(transaction, tenantId, EventTypes.CallRated, EventTypes.Call(rated.CallId), rated);

    private Task AppendAsync(NpgsqlTransaction transaction, CallRecord call, string type, object data) =>
        outbox.AppendAsync(transaction, call.TenantId, type, EventTypes.Call(call.Id), data);
}

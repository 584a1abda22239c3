using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Turn;

namespace Callern.Platform.Calls;

public enum CallState
{
    Queued,
    Ringing,
    Accepted,
    Connected,
    Ended,
}

/// <summary>Why a call ended (docs/calls.md).</summary>
public static class EndReasons
{
    /// <summary>A participant hung up after the call connected.</summary>
    public const string Completed = "completed";
    /// <summary>The student withdrew the request before it was accepted, or a participant ended it before media connected.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Nobody accepted: every candidate declined or timed out, or the queue wait ran out.</summary>
    public const string NoTeacher = "no_teacher";
    /// <summary>The student had no spendable minutes when the call was accepted.</summary>
    public const string NoMinutes = "no_minutes";
    /// <summary>Media never connected within the setup timeout; no charge.</summary>
    public const string SetupFailed = "setup_failed";
    public const string BalanceDepleted = "balance_depleted";
    /// <summary>A participant stayed away beyond the reconnect grace.</summary>
    public const string ConnectionLost = "connection_lost";
    public const string MaxDuration = "max_duration";
    /// <summary>A tenant admin ended it.</summary>
    public const string AdminEnded = "admin_ended";
}

/// <summary>POST /v1/calls, or the hub's RequestCall. Language and level default to the student's profile.</summary>
public sealed record CallRequest(string? Language, string? Level, string? Accent, string? Specialization, IReadOnlyList<string>? PreferredTeachers)
{
    public FieldErrors Validate(FieldErrors errors) => MatchCriteria.Validate(errors, Language, Level, Accent, Specialization, PreferredTeachers);
}

public sealed record CallOffer(Guid Id, string TeacherId, DateTimeOffset OfferedAt, DateTimeOffset ExpiresAt, string? Outcome, DateTimeOffset? DecidedAt, double Score);

public sealed record CallRating(int Stars, string? Comment, DateTimeOffset CreatedAt);

/// <summary>
/// A call and, once ended, its summary. <paramref name="Transcript"/>, <paramref name="Files"/> and
/// <paramref name="Whiteboard"/> (the classroom) are filled by GET /v1/calls/{id} and null in lists.
/// </summary>
public sealed record Call(
    Guid Id, string StudentId, string? TeacherId, CallState State, string? EndReason, string? EndedBy,
    string Language, string Level, string? Accent, string? Specialization,
    DateTimeOffset RequestedAt, DateTimeOffset? AcceptedAt, DateTimeOffset? ConnectedAt, DateTimeOffset? EndedAt,
    long MeteredSeconds, long? BilledSeconds, int? QueuePosition, IReadOnlyList<CallOffer> Offers, CallRating? Rating,
    IReadOnlyList<ChatMessage>? Transcript = null, IReadOnlyList<CallFile>? Files = null, Whiteboard? Whiteboard = null);

public sealed record RateCallRequest(int? Stars, string? Comment);

// Hub events (ICallernClient). Each carries the call id so a client can route it.

/// <summary>To the student: nobody is free yet; the request waits at this position.</summary>
public sealed record CallQueuedEvent(Guid CallId, int Position, DateTimeOffset GiveUpAt);

/// <summary>To the student: these many teachers are being rung.</summary>
public sealed record CallRingingEvent(Guid CallId, int TeachersRinging);

/// <summary>What a teacher sees of the student before accepting.</summary>
public sealed record StudentPreview(string Id, string DisplayName, string? Level, string? TargetLanguage, string? Goal);

/// <summary>To a teacher: accept or decline before <paramref name="ExpiresAt"/>.</summary>
public sealed record IncomingCallEvent(Guid OfferId, Guid CallId, DateTimeOffset ExpiresAt, StudentPreview Student, string Language, string Level, string? Specialization);

/// <summary>To a teacher: the offer is gone (timed_out, revoked because another teacher accepted, or the student cancelled).</summary>
public sealed record OfferClosedEvent(Guid OfferId, Guid CallId, string Outcome);

/// <summary>The other participant as each side sees them.</summary>
public sealed record PeerProfile(string Id, string DisplayName, string Role, string? AvatarUrl, string? Level);

/// <summary>
/// To both sides on accept, and the answer of <c>RejoinCall</c>: who the peer is, the ICE servers
/// with fresh TURN credentials, the perfect-negotiation role (the teacher is polite, the student
/// impolite; only the impolite side makes the first offer), and the platform's clock
/// (<paramref name="ServerTime"/>), against which media confirmations are stamped.
/// </summary>
public sealed record CallAcceptedEvent(Guid CallId, PeerProfile Peer, bool Polite, IceServersResponse IceServers, CallState State, DateTimeOffset ServerTime);

/// <summary>WebRTC negotiation relayed between the two participants: type is offer, answer, candidate or another app-defined kind.</summary>
public sealed record SignalMessage(string Type, string Payload);

public sealed record SignalEvent(Guid CallId, string From, SignalMessage Signal);

/// <summary>
/// The hub's <c>ConfirmMedia</c>: the caller's inbound media bytes (audio and video, summed over
/// the peer connection's inbound-rtp stats) as sampled at <paramref name="SampledAt"/> (the
/// platform's clock as the client estimates it from <see cref="CallAcceptedEvent.ServerTime"/>).
/// Sent every <see cref="MediaConfirmationRules.Interval"/>; a confirmation whose bytes grew since
/// the caller's previous one says media reached the caller during that interval. It carries the
/// side's latest <paramref name="Stats"/> too, so a call costs one message per side every 4 s, not two.
/// </summary>
public sealed record MediaConfirmation(DateTimeOffset SampledAt, long InboundBytes, CallStatsSample? Stats = null);

/// <summary>A client's WebRTC stats sample (the TS SDK's CallStats without its timestamp: the server stamps it).</summary>
public sealed record CallStatsSample(
    double? RttMs, double PacketLossIn, double? PacketLossOut, double? JitterMs, double BitrateInBps, double BitrateOutBps,
    long BytesReceived, long BytesSent, string? LocalCandidateType, string? RemoteCandidateType);

/// <summary>
/// The answer to a confirmation: the platform's clock (to correct the client's estimate), whether
/// this confirmation counted as media flowing, and whether the call is billing now (both sides confirmed).
/// </summary>
public sealed record MediaConfirmationResult(DateTimeOffset ServerTime, bool MediaFlowing, bool Billing);

/// <summary>GET /v1/me/calls/live: the caller's accepted or connected call, if any, to rejoin after a reload.</summary>
public sealed record LiveCallResponse(Call? Call);

/// <summary>To a connection that just opened, when its user has a live (accepted or connected) call: rejoin it with <c>RejoinCall</c>.</summary>
public sealed record LiveCallEvent(Guid CallId, CallState State);

/// <summary>
/// To the peer when the other participant rejoined the call (after a reload, a new tab, or a
/// connection to another node): the old peer connection is dead; start a new one.
/// </summary>
public sealed record PeerRejoinedEvent(Guid CallId, string UserId);

/// <summary>To both: two-way media confirmed by both sides for the first time; metering started.</summary>
public sealed record CallConnectedEvent(Guid CallId, DateTimeOffset ConnectedAt);

/// <summary>
/// To both, every <see cref="CallRules.TickInterval"/> while connected and at once when billing pauses
/// or resumes; the SDKs count on between two. <paramref name="RemainingSeconds"/> is null where the tenant hides the balance.
/// </summary>
public sealed record CallTimerEvent(Guid CallId, long ElapsedSeconds, long? RemainingSeconds, bool Paused);

/// <summary>To the student: few minutes left.</summary>
public sealed record BalanceWarningEvent(Guid CallId, long RemainingSeconds, int ThresholdMinutes);

/// <summary>
/// To both, when billing pauses because a side's media confirmations lapsed (<paramref name="Connected"/>
/// false: "reconnecting", the call ends <c>connection_lost</c> at <paramref name="GraceEndsAt"/> unless
/// media is confirmed again) and when two-way media is confirmed again (true: "back").
/// </summary>
public sealed record PeerConnectionEvent(Guid CallId, bool Connected, DateTimeOffset? GraceEndsAt);

/// <summary>To both: the call ended; the summary is the call as ended.</summary>
public sealed record CallEndedEvent(Guid CallId, string Reason, long BilledSeconds, Call Summary);

internal static class CallRules
{
    public const int MaxSignalPayloadChars = 16 * 1024;
    /// <summary>
    /// How often a connected call is brought up to date in the database (top-ups, a party's node lost)
    /// and its timer sent; warnings, depletion and the maximum duration get a tick of their own at their moment.
    /// </summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(30);

    public static StudentPreview Preview(Student? student, string studentId) =>
        new(studentId, student?.DisplayName ?? studentId, student?.Level, student?.TargetLanguage, student?.Goal);
}

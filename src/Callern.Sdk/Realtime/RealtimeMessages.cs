using System.Text.Json;

namespace Callern.Sdk.Realtime;

// The hub's messages that the OpenAPI document does not describe (docs/realtime.md, docs/calls.md).
// Payloads it does describe (Call, CallRequest, TeacherPresence, IceServersResponse) are the
// generated REST types in Callern.Sdk.

/// <summary>To the student: nobody is free yet; the request waits at <paramref name="Position"/>.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Position">Place in the queue; 1 is next.</param>
/// <param name="GiveUpAt">When the request ends as <c>no_teacher</c> unless a teacher frees up.</param>
public sealed record CallQueuedEvent(Guid CallId, int Position, DateTimeOffset GiveUpAt);

/// <summary>To the student: this many teachers are being rung.</summary>
/// <param name="CallId">The call.</param>
/// <param name="TeachersRinging">How many teachers hold an open offer.</param>
public sealed record CallRingingEvent(Guid CallId, int TeachersRinging);

/// <summary>What a teacher sees of the student before accepting.</summary>
/// <param name="Id">The school's own user id of the student.</param>
/// <param name="DisplayName">The student's name.</param>
/// <param name="Level">CEFR level, when known.</param>
/// <param name="TargetLanguage">The language the student learns, when known.</param>
/// <param name="Goal">The student's goal, when given.</param>
public sealed record StudentPreview(string Id, string DisplayName, string? Level, string? TargetLanguage, string? Goal);

/// <summary>To a teacher: an offer to take a call; accept or decline before <paramref name="ExpiresAt"/>.</summary>
/// <param name="OfferId">Pass it to <see cref="CallernRealtimeClient.AcceptOfferAsync"/> or <see cref="CallernRealtimeClient.DeclineOfferAsync"/>.</param>
/// <param name="CallId">The call.</param>
/// <param name="ExpiresAt">When the offer times out.</param>
/// <param name="Student">Who is calling.</param>
/// <param name="Language">The language of the lesson.</param>
/// <param name="Level">The level of the lesson.</param>
/// <param name="Specialization">The requested specialization, if any.</param>
public sealed record IncomingCallEvent(Guid OfferId, Guid CallId, DateTimeOffset ExpiresAt, StudentPreview Student, string Language, string Level, string? Specialization);

/// <summary>To a teacher: the offer is gone.</summary>
/// <param name="OfferId">The offer.</param>
/// <param name="CallId">The call.</param>
/// <param name="Outcome"><c>timed_out</c>, <c>revoked</c> (another teacher accepted) or the student cancelled.</param>
public sealed record OfferClosedEvent(Guid OfferId, Guid CallId, string Outcome);

/// <summary>The other participant of a call as each side sees them.</summary>
/// <param name="Id">The school's own user id.</param>
/// <param name="DisplayName">The name to show.</param>
/// <param name="Role"><c>student</c> or <c>teacher</c>.</param>
/// <param name="AvatarUrl">A picture, if any.</param>
/// <param name="Level">The student's level, for a student peer.</param>
public sealed record PeerProfile(string Id, string DisplayName, string Role, string? AvatarUrl, string? Level);

/// <summary>To both sides when a teacher accepts: the peer, ICE servers with fresh TURN credentials, and the negotiation role.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Peer">The other participant.</param>
/// <param name="Polite">The perfect-negotiation role: the teacher is polite, the student impolite.</param>
/// <param name="IceServers">STUN/TURN servers for the peer connection.</param>
public sealed record CallAcceptedEvent(Guid CallId, PeerProfile Peer, bool Polite, IceServersResponse IceServers);

/// <summary>A WebRTC negotiation message for the other participant.</summary>
/// <param name="Type"><c>offer</c>, <c>answer</c>, <c>candidate</c> or another app-defined kind (at most 32 characters).</param>
/// <param name="Payload">The message itself, usually JSON (at most 16 KiB).</param>
public sealed record SignalMessage(string Type, string Payload);

/// <summary>A signal from the other participant of a call.</summary>
/// <param name="CallId">The call.</param>
/// <param name="From">The sender's user id.</param>
/// <param name="Signal">The signal.</param>
public sealed record SignalEvent(Guid CallId, string From, SignalMessage Signal);

/// <summary>To both: media connected on both sides; metering started.</summary>
/// <param name="CallId">The call.</param>
/// <param name="ConnectedAt">When metering started.</param>
public sealed record CallConnectedEvent(Guid CallId, DateTimeOffset ConnectedAt);

/// <summary>To both, at least every 5 s while connected.</summary>
/// <param name="CallId">The call.</param>
/// <param name="ElapsedSeconds">Metered seconds so far.</param>
/// <param name="RemainingSeconds">The student's remaining seconds; null where the school hides the balance.</param>
/// <param name="Paused">Metering is paused while a participant reconnects.</param>
public sealed record CallTimerEvent(Guid CallId, long ElapsedSeconds, long? RemainingSeconds, bool Paused);

/// <summary>To the student: few minutes left.</summary>
/// <param name="CallId">The call.</param>
/// <param name="RemainingSeconds">Seconds left.</param>
/// <param name="ThresholdMinutes">The warning threshold that was crossed.</param>
public sealed record BalanceWarningEvent(Guid CallId, long RemainingSeconds, int ThresholdMinutes);

/// <summary>To the peer: the other side's connection dropped (until <paramref name="GraceEndsAt"/>) or came back.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Connected">Whether the other side is connected now.</param>
/// <param name="GraceEndsAt">When the call ends as <c>connection_lost</c> unless they return.</param>
public sealed record PeerConnectionEvent(Guid CallId, bool Connected, DateTimeOffset? GraceEndsAt);

/// <summary>To both: the call ended.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Reason">Why (docs/calls.md lists the reasons).</param>
/// <param name="BilledSeconds">What the student was charged.</param>
/// <param name="Summary">The call as ended.</param>
public sealed record CallEndedEvent(Guid CallId, string Reason, long BilledSeconds, Call Summary);

/// <summary>What a participant is sending.</summary>
/// <param name="Microphone">The microphone is on.</param>
/// <param name="Camera">The camera is on.</param>
/// <param name="ScreenShare">A screen is shared.</param>
/// <param name="ScreenTrackId">The id of the screen's media track in the SDP, so the peer knows which video is the screen.</param>
public sealed record MediaState(bool Microphone, bool Camera, bool ScreenShare, string? ScreenTrackId);

/// <summary>A participant's media state as the platform relays it.</summary>
/// <param name="CallId">The call.</param>
/// <param name="UserId">Whose state it is.</param>
/// <param name="State">The state.</param>
public sealed record MediaStateChangedEvent(Guid CallId, string UserId, MediaState State);

/// <summary>A connection-quality sample; the platform stamps the time.</summary>
/// <param name="RttMs">Round-trip time, when measured.</param>
/// <param name="PacketLossIn">Fraction (0..1) of inbound packets lost.</param>
/// <param name="PacketLossOut">Fraction (0..1) of outbound packets the peer reports lost, when reported.</param>
/// <param name="JitterMs">Inbound jitter, when measured.</param>
/// <param name="BitrateInBps">Received bitrate.</param>
/// <param name="BitrateOutBps">Sent bitrate.</param>
/// <param name="BytesReceived">Bytes received since the call started.</param>
/// <param name="BytesSent">Bytes sent since the call started.</param>
/// <param name="LocalCandidateType">Our end of the selected candidate pair (host, srflx, prflx, relay).</param>
/// <param name="RemoteCandidateType">The peer's end of the selected candidate pair.</param>
public sealed record CallStatsSample(
    double? RttMs, double PacketLossIn, double? PacketLossOut, double? JitterMs, double BitrateInBps, double BitrateOutBps,
    long BytesReceived, long BytesSent, string? LocalCandidateType, string? RemoteCandidateType);

/// <summary>A chat message of a call.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Seq">Position in the call's chat, from 1, without gaps.</param>
/// <param name="SenderId">Who sent it.</param>
/// <param name="Text">The text.</param>
/// <param name="SentAt">When the platform stored it.</param>
public sealed record ChatMessage(Guid CallId, long Seq, string SenderId, string Text, DateTimeOffset SentAt);

/// <summary>A whiteboard operation to send.</summary>
/// <param name="Kind"><c>stroke</c>, <c>shape</c>, <c>text</c>, <c>erase</c>, <c>clear</c> or <c>undo</c>.</param>
/// <param name="Data">The kind's JSON object (coordinates normalised to 0..1; at most 16 KiB serialized).</param>
public sealed record WhiteboardOperationInput(string Kind, JsonElement Data);

/// <summary>A whiteboard operation as the platform stored and relayed it.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Seq">Position in the call's board history.</param>
/// <param name="AuthorId">Who drew it.</param>
/// <param name="Kind">The operation kind.</param>
/// <param name="Data">The kind's JSON object.</param>
/// <param name="CreatedAt">When the platform stored it.</param>
public sealed record WhiteboardOperation(Guid CallId, long Seq, string AuthorId, string Kind, JsonElement Data, DateTimeOffset CreatedAt);

/// <summary>A file shared in a call.</summary>
/// <param name="Id">The file.</param>
/// <param name="CallId">The call.</param>
/// <param name="UploaderId">Who shared it.</param>
/// <param name="FileName">Its name.</param>
/// <param name="ContentType">Its media type.</param>
/// <param name="SizeBytes">Its size.</param>
/// <param name="UploadedAt">When it was shared.</param>
public sealed record CallFile(Guid Id, Guid CallId, string UploaderId, string FileName, string ContentType, long SizeBytes, DateTimeOffset UploadedAt);

/// <summary>A call's room: media states, and the chat, whiteboard and files after the seqs asked for (catch-up after a reconnect).</summary>
/// <param name="CallId">The call.</param>
/// <param name="MediaStates">Each participant's latest media state.</param>
/// <param name="Messages">Chat messages after the asked seq, in order.</param>
/// <param name="WhiteboardOperations">Whiteboard operations after the asked seq, in order.</param>
/// <param name="Files">The call's files.</param>
public sealed record RoomState(
    Guid CallId, IReadOnlyList<MediaStateChangedEvent> MediaStates, IReadOnlyList<ChatMessage> Messages,
    IReadOnlyList<WhiteboardOperation> WhiteboardOperations, IReadOnlyList<CallFile> Files);

/// <summary>The state of the realtime connection.</summary>
public enum RealtimeConnectionState
{
    /// <summary>Not connected, and not trying.</summary>
    Disconnected,
    /// <summary>The first connection is being made.</summary>
    Connecting,
    /// <summary>Connected.</summary>
    Connected,
    /// <summary>The connection was lost; retrying with backoff.</summary>
    Reconnecting,
}

/// <summary>The connection state changed.</summary>
/// <param name="State">The new state.</param>
/// <param name="Error">Why the connection was lost, when it was.</param>
public sealed record ConnectionStateChangedEvent(RealtimeConnectionState State, Exception? Error);

/// <summary>The connection is back after it was lost.</summary>
/// <param name="Attempts">How many attempts it took.</param>
public sealed record ReconnectedEvent(int Attempts);

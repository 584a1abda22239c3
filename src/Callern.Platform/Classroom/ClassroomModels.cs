using System.Text.Json;
using Callern.Platform.Calls;

namespace Callern.Platform.Classroom;

/// <summary>
/// A participant's media: what they send. <paramref name="ScreenTrackId"/> is the MediaStreamTrack
/// id of the screen track in the SDP, so the peer knows which video is the screen.
/// </summary>
public sealed record MediaState(bool Microphone, bool Camera, bool ScreenShare, string? ScreenTrackId);

/// <summary>To both participants: one side's media changed; also the entries of <see cref="RoomState.MediaStates"/>.</summary>
public sealed record MediaStateChangedEvent(Guid CallId, string UserId, MediaState State);

/// <summary>
/// A whiteboard operation as a client sends it: <paramref name="Kind"/> is stroke, shape, text,
/// erase, clear or undo; <paramref name="Data"/> the kind's JSON object (docs/classroom.md).
/// </summary>
public sealed record WhiteboardOperationInput(string Kind, JsonElement Data);

/// <summary>A short-lived download address usable without a bearer token (for a browser's &lt;a href&gt;).</summary>
public sealed record FileLink(string Url, DateTimeOffset ExpiresAt);

/// <summary>
/// What a client needs after a reconnect: both sides' media, the chat messages and whiteboard
/// operations after the seqs it has seen (in seq order), and every file of the call.
/// </summary>
public sealed record RoomState(
    Guid CallId, IReadOnlyList<MediaStateChangedEvent> MediaStates, IReadOnlyList<ChatMessage> Messages,
    IReadOnlyList<WhiteboardOperation> WhiteboardOperations, IReadOnlyList<CallFile> Files);

using Callern.Platform.Calls;
using Callern.Platform.Classroom;

namespace Callern.Platform.Signaling;

/// <summary>The classroom's hub methods (docs/classroom.md): participants of a live call only, checked by <see cref="ClassroomService"/>.</summary>
public sealed partial class CallsHub
{
    /// <summary>The caller's microphone, camera or screen share changed; both sides hear of it and a reconnecting peer reads it back.</summary>
    public Task<MediaStateChangedEvent> UpdateMediaState(Guid callId, MediaState state) =>
        Guard(null, caller => classroom.UpdateMediaStateAsync(caller, callId, state));

    /// <summary>The latest WebRTC stats of the caller's side; only the latest sample is kept.</summary>
    public Task ReportStats(Guid callId, CallStatsSample stats) => Guard(null, async caller =>
    {
        await classroom.ReportStatsAsync(caller, callId, stats);
        return true;
    });

    public Task<ChatMessage> SendChatMessage(Guid callId, string text) =>
        Guard(null, caller => classroom.SendChatAsync(caller, callId, text));

    public Task<WhiteboardOperation> SendWhiteboardOperation(Guid callId, WhiteboardOperationInput operation) =>
        Guard(null, caller => classroom.SendWhiteboardAsync(caller, callId, operation));

    /// <summary>After a reconnect: media states, the chat and whiteboard after the seqs seen, and the files.</summary>
    public Task<RoomState> GetRoomState(Guid callId, long afterChatSeq, long afterWhiteboardSeq) =>
        Guard(null, caller => classroom.GetRoomStateAsync(caller, callId, afterChatSeq, afterWhiteboardSeq));
}

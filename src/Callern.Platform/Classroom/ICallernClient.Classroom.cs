using Callern.Platform.Calls;
using Callern.Platform.Classroom;

namespace Callern.Platform.Signaling;

/// <summary>Classroom events, to every connection of both participants (the sender's too).</summary>
public partial interface ICallernClient
{
    Task MediaStateChanged(MediaStateChangedEvent e);
    Task ChatMessageReceived(ChatMessage message);
    Task WhiteboardOperationReceived(WhiteboardOperation operation);
    Task FileShared(CallFile file);
}

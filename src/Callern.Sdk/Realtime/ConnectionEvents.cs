namespace Callern.Sdk.Realtime;

// The hub's messages (CallAcceptedEvent, SignalMessage, ChatMessage, RoomState, …) are generated
// into Callern.Sdk from the OpenAPI document, like the REST types; these describe the client's
// own connection.

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

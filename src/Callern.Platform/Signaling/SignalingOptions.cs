namespace Callern.Platform.Signaling;

/// <summary><c>Callern:Hub</c>: limits of the realtime hub and the cadence of its background work.</summary>
public sealed class SignalingOptions
{
    /// <summary>Largest hub message accepted; a larger one closes that connection with an error. SDP offers stay well below it.</summary>
    public long MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Sustained hub invocations per second per connection (token bucket refill).</summary>
    public double MessagesPerSecond { get; set; } = 20;

    /// <summary>Invocations a connection may send at once before the refill rate applies (bucket size).</summary>
    public int MessageBurst { get; set; } = 40;

    /// <summary>How often a node writes last_seen_at of all its connections (<see cref="ConnectionHeartbeat"/>).</summary>
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>Connections stamped per heartbeat statement; a beat's statements are spread over its first half.</summary>
    public int HeartbeatChunk { get; set; } = 500;

    /// <summary>
    /// A connection row not refreshed for this long belongs to a node that died; the sweeper deletes it.
    /// At least three heartbeats (one late beat is no death) and the longest presence grace, so such
    /// a teacher may go offline at once.
    /// </summary>
    public int StaleConnectionSeconds { get; set; } = 75;

    /// <summary>How often each node looks for due offline deadlines and stale connections.</summary>
    public int SweepSeconds { get; set; } = 5;
}

using System.Buffers.Text;
using System.Text;

/// <summary>
/// A PeerJS client's signaling connection, for the peer comparison: the PeerJS server's WebSocket
/// protocol (`/peerjs?key=…&amp;id=…&amp;token=…`, an OPEN message on arrival, a HEARTBEAT every 5 s as
/// the PeerJS client sends it, and CANDIDATE messages to a destination id that the server relays
/// with the sender's id added), written and read in place like <see cref="LeanHubConnection"/>, so
/// that both servers are driven by the same load at the same cost to the generator.
/// </summary>
internal sealed class PeerJsConnection : BenchWebSocket
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);
    private static readonly byte[] Heartbeat = Encoding.ASCII.GetBytes("{\"type\":\"HEARTBEAT\"}");
    private static readonly byte[] PayloadKey = Encoding.ASCII.GetBytes("\"payload\":\"");

    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Uri _server;
    private readonly byte[] _frame = new byte[4096];
    private int _length;
    private Action<long>? _onSignal;

    /// <param name="server">The PeerJS server's WebSocket endpoint (ws://host:port/peerjs).</param>
    public PeerJsConnection(Uri server, string id) =>
        _server = new Uri($"{server}?key=peerjs&id={Uri.EscapeDataString(id)}&token={Guid.NewGuid():N}");

    /// <summary>The handler gets the Stopwatch timestamp that opens a relayed signal's payload.</summary>
    public void OnSignal(Action<long> handler) => _onSignal = handler;

    /// <summary>Connects and waits for the server's OPEN.</summary>
    public async Task StartAsync()
    {
        await Socket.ConnectAsync(_server, CancellationToken.None);
        // The server drops a client it has not heard from for alive_timeout.
        StartLoops(Heartbeat, HeartbeatEvery);
        await _opened.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A CANDIDATE to <paramref name="destination"/> with the payload "&lt;sentAt&gt;;&lt;padding&gt;", as the hub bench sends it.</summary>
    public Task SendSignalAsync(string destination, long sentAt, string padding) =>
        SendAsync(signal => signal.Connection.WriteSignal(signal.Destination, signal.SentAt, signal.Padding),
            (Connection: this, Destination: destination, SentAt: sentAt, Padding: padding));

    private ReadOnlyMemory<byte> WriteSignal(string destination, long sentAt, string padding)
    {
        _length = 0;
        Append("{\"type\":\"CANDIDATE\",\"dst\":\"");
        Append(destination);
        Append("\",\"payload\":\"");
        Utf8Formatter.TryFormat(sentAt, _frame.AsSpan(_length), out var written);
        _length += written;
        Append(";");
        Append(padding);
        Append("\"}");
        return _frame.AsMemory(0, _length);
    }

    private void Append(string ascii) => _length += Encoding.ASCII.GetBytes(ascii, _frame.AsSpan(_length));

    /// <summary>Each whole WebSocket message: the server sends one JSON message per frame.</summary>
    protected override int Consume(ReadOnlySpan<byte> received, bool endOfMessage)
    {
        if (!endOfMessage)
        {
            return 0;
        }
        Dispatch(received);
        return received.Length;
    }

    protected override void Closed() =>
        _opened.TrySetException(new InvalidOperationException($"The PeerJS server closed {_server} before OPEN."));

    private void Dispatch(ReadOnlySpan<byte> message)
    {
        var payload = message.IndexOf(PayloadKey);
        if (payload >= 0 && _onSignal is not null && message.IndexOf("\"CANDIDATE\""u8) >= 0)
        {
            Utf8Parser.TryParse(message[(payload + PayloadKey.Length)..], out long sentAt, out _);
            _onSignal(sentAt);
        }
        else if (message.IndexOf("\"OPEN\""u8) >= 0)
        {
            _opened.TrySetResult();
        }
        else if (!_opened.Task.IsCompleted)
        {
            _opened.TrySetException(new InvalidOperationException($"The PeerJS server refused {_server}: {Encoding.UTF8.GetString(message)}"));
        }
    }
}

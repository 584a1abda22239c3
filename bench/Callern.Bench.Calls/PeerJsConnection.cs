using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text;

/// <summary>
/// A PeerJS client's signaling connection, for the peer comparison: the PeerJS server's WebSocket
/// protocol (`/peerjs?key=…&amp;id=…&amp;token=…`, an OPEN message on arrival, a HEARTBEAT every 5 s as
/// the PeerJS client sends it, and CANDIDATE messages to a destination id that the server relays
/// with the sender's id added), written and read in place like <see cref="LeanHubConnection"/>, so
/// that both servers are driven by the same load at the same cost to the generator.
/// </summary>
internal sealed class PeerJsConnection : IAsyncDisposable
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);
    private static readonly byte[] Heartbeat = Encoding.ASCII.GetBytes("{\"type\":\"HEARTBEAT\"}");
    private static readonly byte[] PayloadKey = Encoding.ASCII.GetBytes("\"payload\":\"");

    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _stopHeartbeats = new();
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Uri _server;
    private readonly byte[] _frame = new byte[4096];
    private int _length;
    private Action<long>? _onSignal;
    private Task? _receiving;
    private Task? _beating;

    /// <param name="server">The PeerJS server's WebSocket endpoint (ws://host:port/peerjs).</param>
    public PeerJsConnection(Uri server, string id) =>
        _server = new Uri($"{server}?key=peerjs&id={Uri.EscapeDataString(id)}&token={Guid.NewGuid():N}");

    /// <summary>The handler gets the Stopwatch timestamp that opens a relayed signal's payload.</summary>
    public void OnSignal(Action<long> handler) => _onSignal = handler;

    /// <summary>Connects and waits for the server's OPEN.</summary>
    public async Task StartAsync()
    {
        await _socket.ConnectAsync(_server, CancellationToken.None);
        _receiving = ReceiveAsync();
        await _opened.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _beating = HeartbeatAsync();
    }

    /// <summary>A CANDIDATE to <paramref name="destination"/> with the payload "&lt;sentAt&gt;;&lt;padding&gt;", as the hub bench sends it.</summary>
    public async Task SendSignalAsync(string destination, long sentAt, string padding)
    {
        await _sending.WaitAsync();
        try
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
            await _socket.SendAsync(_frame.AsMemory(0, _length), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sending.Release();
        }
    }

    private void Append(string ascii) => _length += Encoding.ASCII.GetBytes(ascii, _frame.AsSpan(_length));

    // The server drops a client it has not heard from for alive_timeout.
    private async Task HeartbeatAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(HeartbeatEvery, _stopHeartbeats.Token);
                await _sending.WaitAsync();
                try
                {
                    await _socket.SendAsync(Heartbeat, WebSocketMessageType.Text, true, CancellationToken.None);
                }
                finally
                {
                    _sending.Release();
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
        {
            // Closing, or closed by the server.
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var result = await _socket.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                filled += result.Count;
                if (!result.EndOfMessage)
                {
                    continue;
                }
                Dispatch(buffer.AsSpan(0, filled));
                filled = 0;
            }
        }
        catch (WebSocketException)
        {
            // Closed without a close handshake (aborted on dispose, or the server went away).
        }
        finally
        {
            _opened.TrySetException(new InvalidOperationException($"The PeerJS server closed {_server} before OPEN."));
        }
    }

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

    public async ValueTask DisposeAsync()
    {
        await _stopHeartbeats.CancelAsync();
        await (_beating ?? Task.CompletedTask);
        try
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            await (_receiving ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is WebSocketException or TimeoutException)
        {
            _socket.Abort();
        }
        await (_receiving ?? Task.CompletedTask);
        _socket.Dispose();
        _stopHeartbeats.Dispose();
        _sending.Dispose();
    }
}

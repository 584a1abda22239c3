using System.Net.WebSockets;

/// <summary>
/// What the load generator's connections share (<see cref="LeanHubConnection"/>,
/// <see cref="PeerJsConnection"/>): the socket, one message written and sent at a time, a
/// keep-alive message on a period, and a close that waits for the server's answer.
/// </summary>
internal abstract class BenchWebSocket : IAsyncDisposable
{
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _stopKeepingAlive = new();
    private Task? _receiving;
    private Task? _keepingAlive;

    protected ClientWebSocket Socket { get; } = new();

    /// <summary>Runs the receive loop (<see cref="Consume"/>), and sends <paramref name="keepAlive"/> every <paramref name="period"/> until disposed.</summary>
    protected void StartLoops(byte[] keepAlive, TimeSpan period)
    {
        _receiving = ReceiveAsync();
        _keepingAlive = KeepAliveAsync(keepAlive, period);
    }

    /// <summary>
    /// Takes what arrived so far (<paramref name="received"/>, the unconsumed bytes before it
    /// included; <paramref name="endOfMessage"/> when the last read ended a WebSocket message) and
    /// answers how many bytes from the start it consumed; the rest stays for the next read.
    /// </summary>
    protected abstract int Consume(ReadOnlySpan<byte> received, bool endOfMessage);

    /// <summary>The connection closed (by either side, or aborted): nothing more will arrive.</summary>
    protected abstract void Closed();

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
                var result = await Socket.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                filled += result.Count;
                var consumed = Consume(buffer.AsSpan(0, filled), result.EndOfMessage);
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        catch (WebSocketException)
        {
            // Closed without a close handshake (aborted on dispose, or the server went away).
        }
        finally
        {
            Closed();
        }
    }

    /// <summary>
    /// Sends the message <paramref name="write"/> returns, written while no other message is
    /// (a connection writes in place into one frame buffer); <paramref name="state"/> spares a closure per message.
    /// </summary>
    protected async Task SendAsync<TState>(Func<TState, ReadOnlyMemory<byte>> write, TState state)
    {
        await _sending.WaitAsync();
        try
        {
            await Socket.SendAsync(write(state), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sending.Release();
        }
    }

    protected Task SendAsync(byte[] message) => SendAsync(static m => m, message);

    private async Task KeepAliveAsync(byte[] message, TimeSpan period)
    {
        try
        {
            while (true)
            {
                await Task.Delay(period, _stopKeepingAlive.Token);
                await SendAsync(message);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
        {
            // Closing, or closed by the server: the receive loop reports the rest.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopKeepingAlive.CancelAsync();
        await (_keepingAlive ?? Task.CompletedTask);
        try
        {
            // The receive loop ends when the server answers the close.
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            await (_receiving ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is WebSocketException or TimeoutException)
        {
            Socket.Abort();
        }
        await (_receiving ?? Task.CompletedTask);
        Socket.Dispose();
        _stopKeepingAlive.Dispose();
        _sending.Dispose();
    }
}

using System.Net;
using System.Net.Sockets;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of one target (a platform's HTTP port, the test PostgreSQL),
/// for faults a test cannot get from a process kill:
/// <list type="bullet">
/// <item><see cref="Silence"/>: nothing is forwarded either way, and no socket is closed: no FIN, no
/// RST, no close frame, as when a laptop lid closes or Wi-Fi dies. New connections are accepted and
/// held just as silently. Bytes already read (even a FIN) are held, not dropped, and go on after
/// <see cref="Forward"/>, as TCP's retransmission would deliver them after a short outage.</item>
/// <item><see cref="Cut"/>: every connection is reset and new ones are refused (nothing listens),
/// as when the target stops.</item>
/// <item><see cref="Drop"/>: every connection is reset, new ones are forwarded (a blip).</item>
/// <item><see cref="Forward"/>: forwards again (listening again after a cut, on the same port).</item>
/// </list>
/// It listens on a port below 32768, outside the kernel's range for the local end of outgoing
/// connections, so the port it reopens after a cut cannot have been taken meanwhile by a client socket.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly Lock _gate = new();
    private readonly List<Link> _links = [];
    private readonly CancellationTokenSource _disposed = new();
    private TaskCompletionSource _forwarding = Completed();
    private TcpListener? _listener;

    private FaultProxy(IPEndPoint target, int port)
    {
        _target = target;
        Port = port;
    }

    /// <summary>The proxy's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The proxy's state: forwarding, silent or cut.</summary>
    public FaultProxyMode Mode { get; private set; } = FaultProxyMode.Forwarding;

    /// <summary>Connections accepted so far (a client that reconnects shows as a new one).</summary>
    public int Accepted { get; private set; }

    /// <summary>Starts forwarding from a free port of 127.0.0.1 (below 32768) to <paramref name="targetPort"/> on 127.0.0.1.</summary>
    public static FaultProxy Start(int targetPort)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var proxy = new FaultProxy(new IPEndPoint(IPAddress.Loopback, targetPort), Random.Shared.Next(10_000, 20_000));
            if (proxy.TryListen())
            {
                return proxy;
            }
        }
        throw new InvalidOperationException("No free port for the proxy in 10000-19999.");
    }

    /// <summary>
    /// A port of 127.0.0.1 free right now, below 32768: a listener that must come back on the same
    /// port (a restarted platform) cannot lose it to the local end of an outgoing connection meanwhile.
    /// </summary>
    public static int FreePortBelow32768()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = Random.Shared.Next(10_000, 20_000);
            using var probe = new TcpListener(IPAddress.Loopback, port);
            try
            {
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken; try another.
            }
        }
        throw new InvalidOperationException("No free port in 10000-19999.");
    }

    /// <summary>Stops forwarding in both directions, closing nothing.</summary>
    public void Silence()
    {
        lock (_gate)
        {
            if (Mode == FaultProxyMode.Forwarding)
            {
                _forwarding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            Mode = FaultProxyMode.Silent;
        }
    }

    /// <summary>Resets every connection (RST) but keeps forwarding new ones: a blip that drops sockets, the network back at once.</summary>
    public void Drop()
    {
        List<Link> links;
        lock (_gate)
        {
            links = [.. _links];
            _links.Clear();
        }
        links.ForEach(l => l.Reset());
    }

    /// <summary>Resets every connection (RST) and refuses new ones until <see cref="Forward"/>.</summary>
    public void Cut()
    {
        List<Link> links;
        lock (_gate)
        {
            Mode = FaultProxyMode.Cut;
            _listener?.Stop();
            _listener = null;
            links = [.. _links];
            _links.Clear();
        }
        links.ForEach(l => l.Reset());
    }

    /// <summary>Forwards again: held bytes flow on; after a cut, the proxy listens again on its port.</summary>
    public void Forward()
    {
        TaskCompletionSource released;
        lock (_gate)
        {
            if (Mode == FaultProxyMode.Cut && !TryListen())
            {
                throw new InvalidOperationException($"The proxy could not listen on {Port} again.");
            }
            Mode = FaultProxyMode.Forwarding;
            released = _forwarding;
        }
        released.TrySetResult();
    }

    private bool TryListen()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        // Reopening after a cut: the reset connections' ports may linger in the kernel's tables.
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            listener.Start();
        }
        catch (SocketException)
        {
            listener.Dispose();
            return false;
        }
        _listener = listener;
        _ = AcceptAsync(listener);
        return true;
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(_disposed.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                return; // Stopped by a cut or by disposal.
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        var link = new Link(client);
        lock (_gate)
        {
            if (Mode == FaultProxyMode.Cut)
            {
                link.Reset();
                return;
            }
            _links.Add(link);
            Accepted++;
        }
        try
        {
            // A connection opened while silent stays unanswered (the handshake was the kernel's) until forwarding resumes.
            await WhenForwardingAsync();
            await link.Server.ConnectAsync(_target, _disposed.Token);
            link.Server.NoDelay = true;
            await Task.WhenAll(PumpAsync(link, link.Client, link.Server), PumpAsync(link, link.Server, link.Client));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            link.Reset();
        }
        finally
        {
            lock (_gate)
            {
                _links.Remove(link);
            }
            link.Dispose();
        }
    }

    /// <summary>
    /// One direction. While silent it neither reads nor writes, so the sender's kernel buffers fill
    /// and nothing (data or FIN) reaches the other side; a read that completed just before the
    /// silence is held until forwarding resumes.
    /// </summary>
    private async Task PumpAsync(Link link, Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        while (!link.IsReset)
        {
            await WhenForwardingAsync();
            var read = await from.ReceiveAsync(buffer, SocketFlags.None, _disposed.Token);
            await WhenForwardingAsync();
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }
            await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _disposed.Token);
        }
    }

    private Task WhenForwardingAsync()
    {
        lock (_gate)
        {
            return _forwarding.Task.WaitAsync(_disposed.Token);
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        Cut();
        _disposed.Dispose();
    }

    private sealed class Link(Socket client) : IDisposable
    {
        public Socket Client { get; } = client;
        public Socket Server { get; } = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        public bool IsReset { get; private set; }

        /// <summary>Closes both ends with RST (linger 0): the peers learn at once, as when a process dies.</summary>
        public void Reset()
        {
            IsReset = true;
            foreach (var socket in new[] { Client, Server })
            {
                try
                {
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Already closed.
                }
            }
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}

/// <summary>What a <see cref="FaultProxy"/> does with traffic.</summary>
public enum FaultProxyMode
{
    /// <summary>Forwards both ways.</summary>
    Forwarding,
    /// <summary>Forwards nothing and closes nothing.</summary>
    Silent,
    /// <summary>Reset every connection; refuses new ones.</summary>
    Cut,
}

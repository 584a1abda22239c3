using System.Net;
using System.Net.Sockets;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>The fault proxy does what the fault tests rely on: silence closes nothing, a cut refuses, forwarding resumes.</summary>
public sealed class FaultProxyTests : IAsyncLifetime
{
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private FaultProxy _proxy = null!;

    public Task InitializeAsync()
    {
        _echo.Start();
        _ = EchoAsync();
        _proxy = FaultProxy.Start(((IPEndPoint)_echo.LocalEndpoint).Port);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_silent_proxy_forwards_nothing_and_closes_nothing_then_delivers_what_it_held()
    {
        using var client = await ConnectAsync();
        Assert.Equal("a", await RoundTripAsync(client, "a"));
        Assert.InRange(_proxy.Port, 1024, 32767);

        _proxy.Silence();
        await client.SendAsync("b"u8.ToArray());
        var buffer = new byte[16];
        var reading = client.ReceiveAsync(buffer, SocketFlags.None);
        var first = await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(1)));

        // Neither an echo nor a FIN (a read of 0) nor a reset (an exception) came through.
        Assert.NotSame(reading, first);
        _proxy.Forward();
        Assert.Equal(1, await reading.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal((byte)'b', buffer[0]);
        Assert.Equal("c", await RoundTripAsync(client, "c"));
    }

    [Fact]
    public async Task A_cut_resets_connections_and_refuses_new_ones_until_forwarding_resumes()
    {
        using var client = await ConnectAsync();
        Assert.Equal("a", await RoundTripAsync(client, "a"));

        _proxy.Cut();

        await Assert.ThrowsAnyAsync<SocketException>(async () =>
        {
            var buffer = new byte[16];
            // A reset surfaces as an exception; a plain close (FIN) as a read of 0, which this turns into one.
            if (await client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(5)) == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }
        });
        var refused = await Assert.ThrowsAsync<SocketException>(ConnectAsync);
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        _proxy.Forward();
        using var again = await ConnectAsync();
        Assert.Equal("d", await RoundTripAsync(again, "d"));
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _proxy.Port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return socket;
    }

    private static async Task<string> RoundTripAsync(Socket socket, string text)
    {
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(text));
        var buffer = new byte[16];
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(5));
        return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
    }

    private async Task EchoAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await _echo.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (connection)
                {
                    var buffer = new byte[1024];
                    try
                    {
                        int read;
                        while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                        {
                            await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                        }
                    }
                    catch (SocketException)
                    {
                        // The proxy reset it.
                    }
                }
            });
        }
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _echo.Stop();
    }
}

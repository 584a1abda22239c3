using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Callern.Platform.Tests.Turn;

/// <summary>
/// The coturn that ./test.sh starts (CALLERN_TEST_TURN_URL, CALLERN_TEST_TURN_SECRET), and coturn's own
/// client to prove a credential against it: turnutils_uclient allocates a relay and sends through
/// it to a turnutils_peer on loopback. Missing variables fail the test, never skip it.
/// </summary>
public static class Coturn
{
    public static string Url => Required("CALLERN_TEST_TURN_URL");
    public static string Secret => Required("CALLERN_TEST_TURN_SECRET");

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set: run the TURN tests through ./test.sh, which starts coturn, or start coturn/start.sh and export " +
                "CALLERN_TEST_TURN_URL=turn:127.0.0.1:<port>?transport=udp and CALLERN_TEST_TURN_SECRET=<secret>.");

    public sealed record Result(int ExitCode, string Output);

    /// <summary>Allocates on the TURN server of <paramref name="turnUrl"/> and relays 5 messages to a local peer.</summary>
    public static async Task<Result> RelayAsync(string turnUrl, string username, string password)
    {
        var server = new Uri(turnUrl.Replace("turn:", "turn://", StringComparison.Ordinal));
        var peerPort = FreeUdpPort();
        using var peer = Start("turnutils_peer", "-L", "127.0.0.1", "-p", peerPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var client = Start("turnutils_uclient", "-e", "127.0.0.1", "-r", peerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-u", username, "-w", password, "-n", "5", "-m", "1", "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), server.Host);
            var output = client.StandardOutput.ReadToEndAsync();
            var errors = client.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await client.WaitForExitAsync(timeout.Token);
            return new Result(client.ExitCode, await output + await errors);
        }
        finally
        {
            peer.Kill();
            await peer.WaitForExitAsync();
        }
    }

    private static Process Start(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program} (coturn's tools; ./test.sh installs coturn).");
    }

    private static int FreeUdpPort()
    {
        using var socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.Client.LocalEndPoint!).Port;
    }
}

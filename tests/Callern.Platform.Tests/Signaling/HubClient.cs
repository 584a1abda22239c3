using System.Threading.Channels;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Signaling;

/// <summary>
/// A hub client as an app would hold one: the official .NET SignalR client over a WebSocket into
/// the test server, the token in the Authorization header (.NET) or the access_token query (browsers),
/// optionally with a browser's Origin. Records every PresenceChanged event it receives.
/// </summary>
public sealed class HubClient : IAsyncDisposable
{
    private readonly Channel<TeacherPresence> _presence = Channel.CreateUnbounded<TeacherPresence>();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HubClient(HubConnection connection)
    {
        Connection = connection;
        connection.On<TeacherPresence>("PresenceChanged", p => _presence.Writer.TryWrite(p));
        connection.Closed += error =>
        {
            _closed.TrySetResult(error);
            return Task.CompletedTask;
        };
    }

    public HubConnection Connection { get; }

    /// <summary>Completes when the server ends the connection, with the error it gave.</summary>
    public Task<Exception?> Closed => _closed.Task;

    public static HubConnection Build(CallernApp app, string? token, string? origin = null, bool tokenInQuery = false)
    {
        var url = new Uri(app.Server.BaseAddress, "hubs/calls" + (tokenInQuery ? "?access_token=" + Uri.EscapeDataString(token!) : ""));
        return WithPlatformJson(new HubConnectionBuilder()
            .WithUrl(url, o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
                o.WebSocketFactory = async (context, cancellationToken) =>
                {
                    var client = app.Server.CreateWebSocketClient();
                    client.ConfigureRequest = request =>
                    {
                        if (token is not null && !tokenInQuery)
                        {
                            request.Headers.Authorization = "Bearer " + token;
                        }
                        if (origin is not null)
                        {
                            request.Headers.Origin = origin;
                        }
                    };
                    return await client.ConnectAsync(context.Uri, cancellationToken);
                };
            }))
            .Build();
    }

    /// <summary>Over the network to a platform listening at <paramref name="baseAddress"/>, as a .NET app connects.</summary>
    public static HubConnection Build(Uri baseAddress, string token) =>
        WithPlatformJson(new HubConnectionBuilder()
            .WithUrl(new Uri(baseAddress, "hubs/calls"), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult<string?>(token);
            }))
            .Build();

    // Enums travel as camelCase names, as the platform sends them.
    private static IHubConnectionBuilder WithPlatformJson(IHubConnectionBuilder builder) =>
        builder.AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(
            new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));

    public static async Task<HubClient> ConnectAsync(CallernApp app, string? token, string? origin = null, bool tokenInQuery = false)
    {
        var client = new HubClient(Build(app, token, origin, tokenInQuery));
        await StartAsync(client.Connection);
        return client;
    }

    /// <summary>
    /// Starts the connection and returns once the server's OnConnectedAsync has run (the handshake
    /// completes before it): the server handles invocations only after it, so one round trip,
    /// even to a method that does not exist, proves the connection is recorded and in its groups.
    /// </summary>
    public static async Task StartAsync(HubConnection connection)
    {
        await connection.StartAsync();
        try
        {
            await connection.InvokeAsync("ConnectedProbe");
        }
        catch (HubException)
        {
            // Expected: no such method. The answer itself is the proof.
        }
    }

    public static Task<HubClient> ConnectAsync(CallernApp app, TestTenant tenant, string userId, string role) =>
        ConnectAsync(app, app.Token(tenant, userId, role));

    public Task<TeacherPresence> SetAvailabilityAsync(string status) =>
        Connection.InvokeAsync<TeacherPresence>("SetAvailability", status);

    /// <summary>The next PresenceChanged event, failing after 10 s of real time.</summary>
    public async Task<TeacherPresence> NextPresenceAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await _presence.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No PresenceChanged event within 10 s.");
        }
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

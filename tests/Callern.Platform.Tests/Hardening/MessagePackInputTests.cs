using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.SdkClients;
using Callern.Sdk;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Hardening;

/// <summary>
/// Bad input over the MessagePack protocol, from a client that writes MessagePack its own way
/// (SignalR's default resolver: C# property names, numbers, binary): every argument that does not
/// fit is refused with the coded <c>invalid_argument</c>, the connection stays, and nothing changes.
/// </summary>
public sealed class MessagePackInputTests(KestrelCallernApp app) : IClassFixture<KestrelCallernApp>
{
    [Fact]
    public async Task Arguments_that_do_not_fit_are_refused_with_invalid_argument_and_the_connection_stays()
    {
        var tenant = await app.CreateTenantAsync();
        await app.TeacherAsync(tenant, "kim");
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(app.BaseUrl, "hubs/calls"), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.AccessTokenProvider = () => Task.FromResult<string?>(app.Token(tenant, "kim", CallernRoles.Teacher));
            })
            .AddMessagePackProtocol()
            .Build();
        await connection.StartAsync();
        var callId = Guid.NewGuid();
        object deep = "leaf";
        for (var i = 0; i < 600; i++)
        {
            deep = new[] { deep };
        }

        async Task<string> RefusedAsync(string method, params object?[] args) =>
            (await Assert.ThrowsAsync<HubException>(() => connection.InvokeCoreAsync(method, args))).Message;
        var refusals = new[]
        {
            await RefusedAsync("SendSignal", 42, new Dictionary<string, string> { ["Type"] = "offer", ["Payload"] = "v=0" }),
            await RefusedAsync("SendSignal", callId, new byte[] { 1, 2, 3 }),
            await RefusedAsync("SendSignal", callId, new Dictionary<int, string> { [1] = "offer" }),
            await RefusedAsync("SendSignal", callId, deep),
            await RefusedAsync("ConfirmMedia", callId, new Dictionary<string, object> { ["SampledAt"] = true, ["InboundBytes"] = 1 }),
            await RefusedAsync("SetAvailability", "sleeping"),
            await RefusedAsync("SetAvailability"),
        };

        Assert.All(refusals, message => Assert.Contains("invalid_argument", message));
        Assert.Equal(HubConnectionState.Connected, connection.State);
        // Property names in C#'s case bind as in JSON (case-insensitive), and nothing was changed by the refusals.
        var unknownCall = await RefusedAsync("SendSignal", callId, new Dictionary<string, string> { ["Type"] = "offer", ["Payload"] = "v=0" });
        Assert.Contains("call_not_found", unknownCall);
        var presence = await connection.InvokeAsync<Dictionary<string, object>>("SetAvailability", "away");
        Assert.Equal("away", presence["status"]);
    }
}

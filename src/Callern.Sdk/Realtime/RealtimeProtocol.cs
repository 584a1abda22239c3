using System.Text.Json;
using System.Text.Json.Serialization;
using Callern.HubProtocol;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Sdk.Realtime;

/// <summary>
/// How the hub's messages are written on the wire. Both carry the same values (docs/realtime.md);
/// MessagePack is binary and smaller, JSON is readable in a browser's network panel.
/// </summary>
public enum RealtimeProtocol
{
    /// <summary>SignalR's JSON protocol (the default).</summary>
    Json,

    /// <summary>SignalR's MessagePack protocol, with the values shaped as in JSON.</summary>
    MessagePack,
}

internal static class RealtimeProtocolBuilder
{
    /// <summary>The SDK's JSON contract: web defaults (camelCase) and enums as camelCase strings, as the platform writes them.</summary>
    private static JsonSerializerOptions Contract()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        json.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return json;
    }

    public static IHubConnectionBuilder WithProtocol(this IHubConnectionBuilder builder, RealtimeProtocol protocol) => protocol switch
    {
        RealtimeProtocol.Json => builder.AddJsonProtocol(o => o.PayloadSerializerOptions = Contract()),
        RealtimeProtocol.MessagePack => builder.AddMessagePackProtocol(o => o.SerializerOptions = JsonShapedMessagePack.Options(Contract())),
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Json or MessagePack."),
    };
}

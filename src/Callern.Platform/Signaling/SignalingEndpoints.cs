using System.Text.Json;
using System.Text.Json.Serialization;
using Callern.HubProtocol;
using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Signaling;

public static class SignalingEndpoints
{
    public static IServiceCollection AddSignaling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SignalingOptions>().Bind(configuration.GetSection("Callern:Hub"))
            .Validate(o => o.MaxMessageBytes >= 1024 && o.MessagesPerSecond > 0 && o.MessageBurst >= 1 && o.HeartbeatSeconds >= 1 && o.HeartbeatChunk >= 1
                && o.SweepSeconds >= 1 && o.StaleConnectionSeconds >= Math.Max(PresenceRules.MaxGraceSeconds, 3 * o.HeartbeatSeconds),
                "Callern:Hub is invalid: see docs/configuration.md.")
            .ValidateOnStart();
        services.AddSignalR(o =>
            {
                o.AddFilter<HubRateLimitFilter>();
                o.AddFilter<HubArgumentFilter>();
                o.AddFilter<HubUnavailableFilter>();
            })
            // Enums as the REST API writes them (ApiConventions), so both SDKs share one contract.
            .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)))
            .AddBackplaneIfConfigured(configuration);
        // MessagePack for clients that ask for it, in the JSON protocol's shape (JsonShapedMessagePack).
        services.AddOptions<MessagePackHubProtocolOptions>().Configure<IOptions<JsonHubProtocolOptions>>((messagePack, json) =>
            messagePack.SerializerOptions = JsonShapedMessagePack.Options(json.Value.PayloadSerializerOptions));
        // Arguments that do not bind are answered invalid_argument like any other bad argument (UnboundArguments).
        services.RemoveAll<IHubProtocol>();
        services.AddSingleton<IHubProtocol>(sp => new UnboundArguments.Protocol(new JsonHubProtocol(sp.GetRequiredService<IOptions<JsonHubProtocolOptions>>())));
        services.AddSingleton<IHubProtocol>(sp => new UnboundArguments.Protocol(new MessagePackHubProtocol(sp.GetRequiredService<IOptions<MessagePackHubProtocolOptions>>())));
        // Read lazily, like the other limits, so hosts and tests can set them after this call.
        services.AddOptions<HubOptions>().Configure<IOptions<SignalingOptions>>((hub, signaling) =>
            hub.MaximumReceiveMessageSize = signaling.Value.MaxMessageBytes);
        services.AddSingleton<PresenceStore>();
        services.AddSingleton<PresenceService>();
        services.AddSingleton<ConnectionTracker>();
        services.AddSingleton<HubRateLimitFilter>();
        services.AddSingleton<HubArgumentFilter>();
        services.AddSingleton<HubUnavailableFilter>();
        services.AddHostedService<ConnectionHeartbeat>();
        services.AddHostedService<PresenceSweeper>();
        return services;
    }

    public static IEndpointRouteBuilder MapSignaling(this IEndpointRouteBuilder app)
    {
        app.MapHub<CallsHub>(CallsHub.Path, o =>
        {
            // The hub trusts the token for the connection's whole life: end it when the token ends.
            o.CloseOnAuthenticationExpiration = true;
            // A WebSocket that drops briefly resumes the same connection, with no lost messages.
            o.AllowStatefulReconnects = true;
            // WebSockets only. A Server-Sent Events or long-polling connection is a series of
            // requests, each of which a balancer may send to another node than the one holding
            // the connection; and a node that shuts down waits for open long polls to end.
            o.Transports = HttpTransportType.WebSockets;
        });
        app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(
            () => app.ServiceProvider.GetRequiredService<ConnectionTracker>().EndAll());

        var me = app.MapGroup("/v1/me/availability").WithTags("Presence").RequireAuthorization(Policies.Teacher);
        me.MapPut("/", SetAvailability).WithName("SetMyAvailability")
            .WithSummary("A teacher sets their status (available, away, offline), as the hub's SetAvailability does.");
        me.MapGet("/", GetAvailability).WithName("GetMyAvailability")
            .WithSummary("A teacher's own status as students' requests see it (offline if never set): what an app shows after a reload.");

        var presence = app.MapGroup("/v1/presence").WithTags("Presence").RequireAuthorization(Policies.Admin);
        presence.MapGet("/teachers", ListTeachers).WithName("ListTeacherPresence")
            .WithSummary("Teachers' presence by teacher id, with cursor pagination; filter by status.");
        return app;
    }

    private static async Task<Results<Ok<TeacherPresence>, ValidationProblem>> SetAvailability(
        SetAvailabilityRequest request, HttpContext http, PresenceService presence)
    {
        if (request.Status is not { } status || !Enum.IsDefined(status))
        {
            return new FieldErrors().Add("status", "available, away or offline.").ToProblem();
        }
        return TypedResults.Ok(await presence.SetAsync(http.User.RequiredCaller(), status));
    }

    private static async Task<Ok<TeacherPresence>> GetAvailability(HttpContext http, PresenceStore store)
    {
        var caller = http.User.RequiredCaller();
        return TypedResults.Ok(await store.FindAsync(caller.TenantId, caller.UserId)
            ?? new TeacherPresence(caller.UserId, PresenceStatus.Offline, false, DateTimeOffset.UnixEpoch, null));
    }

    private static async Task<Results<Ok<Page<TeacherPresence>>, ValidationProblem>> ListTeachers(
        HttpContext http, PresenceStore store, string? status, string? cursor, int? limit)
    {
        // A string, not the enum: query binding of enums is case-sensitive and would answer a bare 400.
        PresenceStatus? wanted = status is not null && status.All(char.IsAsciiLetter)
            && Enum.TryParse<PresenceStatus>(status, ignoreCase: true, out var parsed) ? parsed : null;
        var errors = new FieldErrors().Check(status is null || wanted is not null, "status", "available, away or offline.");
        var (after, size) = Cursor.Read(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await store.ListAsync(http.User.RequiredCaller().TenantId, wanted, after, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, p => p.TeacherId));
    }
}

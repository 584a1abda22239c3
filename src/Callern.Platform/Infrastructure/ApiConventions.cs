using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Callern.Platform.Infrastructure;

public sealed class LimitsOptions
{
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;
    /// <summary>Requests one user (tenant + sub, or one client address when anonymous) may make per window.</summary>
    public int PermitsPerUser { get; set; } = 200;
    /// <summary>Requests all users of one tenant together may make per window.</summary>
    public int PermitsPerTenant { get; set; } = 5000;
    public int WindowSeconds { get; set; } = 10;
}

/// <summary>
/// Problem details on every error, JSON shape, rate limits per user and per tenant, body size
/// limits and health checks: the cross-cutting API conventions of docs/api-conventions.md.
/// </summary>
public static class ApiConventions
{
    public static IServiceCollection AddApiConventions(this IServiceCollection services, IConfiguration configuration)
    {
        // Read when first used, not now: tests and hosts may add configuration after this call.
        services.Configure<LimitsOptions>(configuration.GetSection("Callern:Limits"));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<LimitsOptions>>().Value);
        services.AddProblemDetails();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            // Strict, as docs/openapi.json describes the bodies (docs/api-conventions.md, "Strict JSON"):
            // enums by name only, numbers as numbers, no property the schema does not list.
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
            o.SerializerOptions.Converters.Add(new StorableText.Converter());
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<LimitsOptions>((o, limits) => o.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes);
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<LimitsOptions>((o, limits) =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    RateLimitPartition.GetFixedWindowLimiter(UserPartition(context), _ => Window(limits.PermitsPerUser, limits))),
                PartitionedRateLimiter.Create<HttpContext, string>(context => context.User.Caller() is { } caller
                    ? RateLimitPartition.GetFixedWindowLimiter($"tenant:{caller.TenantId}", _ => Window(limits.PermitsPerTenant, limits))
                    : RateLimitPartition.GetNoLimiter("anonymous")));
            o.OnRejected = async (rejected, cancellationToken) =>
            {
                var http = rejected.HttpContext;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? (int)Math.Ceiling(wait.TotalSeconds)
                    : limits.WindowSeconds;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = Math.Max(1, retryAfter).ToString(CultureInfo.InvariantCulture);
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = { Status = 429, Title = "Too many requests.", Detail = $"Retry after {retryAfter} s." },
                });
            };
        });
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("postgresql", tags: ["ready"]);
        return services;
    }

    public static WebApplication UseApiConventions(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = StatusFor, ExceptionHandler = WriteProblem });
        app.UseStatusCodePages();
        app.Use(RejectOversizedBodies);
        app.Use(StorableText.RejectInQueryAndPath);
        return app;
    }

    public static WebApplication MapHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).DisableRateLimiting().ExcludeFromDescription();
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") }).DisableRateLimiting().ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// Every pooled database connection stayed busy for the pool's whole wait: this node is
    /// overloaded. Callers get 503 (REST) or <c>unavailable</c> (hub) and retry, not a server error.
    /// </summary>
    public static bool IsOverload(Exception exception) => exception is NpgsqlException { InnerException: TimeoutException };

    /// <summary>
    /// The hub's backplane (Redis) could not take a message: unreachable, or too slow to answer
    /// (a <see cref="RedisTimeoutException"/> is a <see cref="TimeoutException"/>, not a <see cref="RedisException"/>).
    /// </summary>
    public static bool IsBackplaneFailure(Exception exception) => exception is RedisException or RedisTimeoutException;

    /// <summary>
    /// What a client is told when <paramref name="exception"/> is one to retry in a moment (503 over
    /// REST, <c>unavailable</c> on the hub); null for any other. After a backplane failure the change
    /// may be made: telling the other nodes' users of it is what failed (docs/deployment.md, "When Redis is away").
    /// </summary>
    public static string? UnavailableReason(Exception exception) => exception switch
    {
        _ when IsOverload(exception) => "The platform is busy; nothing was changed. Retry in a moment.",
        _ when IsBackplaneFailure(exception) => "The platform's nodes cannot reach each other; what this sent to the other party may not have arrived. Retry in a moment.",
        _ => null,
    };

    private static int StatusFor(Exception exception) => exception switch
    {
        BadHttpRequestException bad => bad.StatusCode,
        _ when UnavailableReason(exception) is not null => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>Malformed JSON and unbindable parameters become 400 with a field error, not a bare status.</summary>
    private static async Task WriteProblem(HttpContext http)
    {
        var exception = http.Features.Get<IExceptionHandlerFeature>()?.Error;
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (exception is BadHttpRequestException bad)
        {
            http.Response.StatusCode = bad.StatusCode;
            var field = exception.InnerException is JsonException json ? json.Path ?? "$" : "request";
            var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]>
            {
                [field] = [exception.InnerException switch
                {
                    UnstorableTextException unstorable => unstorable.Message,
                    JsonException => "Malformed JSON, a value of the wrong type, or a property the schema does not list.",
                    _ => bad.Message,
                }],
            })
            { Status = bad.StatusCode, Title = bad.StatusCode == 413 ? "Request body too large." : "The request is invalid." };
            await problems.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem });
            return;
        }
        if (exception is not null && UnavailableReason(exception) is { } unavailable)
        {
            http.Response.Headers.RetryAfter = "1";
            await problems.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = { Status = 503, Title = unavailable } });
            return;
        }
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = 500, Title = "An unexpected error occurred." },
        });
    }

    private static async Task RejectOversizedBodies(HttpContext http, Func<Task> next)
    {
        var limit = http.RequestServices.GetRequiredService<LimitsOptions>().MaxRequestBodyBytes;
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        var endpointLimit = http.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize;
        var effective = endpointLimit ?? sizeFeature?.MaxRequestBodySize ?? limit;
        if (http.Request.ContentLength > effective)
        {
            throw new BadHttpRequestException($"The body may hold at most {effective} bytes.", StatusCodes.Status413PayloadTooLarge);
        }
        await next();
    }

    private static FixedWindowRateLimiterOptions Window(int permits, LimitsOptions limits) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromSeconds(limits.WindowSeconds),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static string UserPartition(HttpContext context)
    {
        var caller = context.User.Caller();
        return caller is null
            ? "ip:" + context.Connection.RemoteIpAddress
            : $"user:{caller.TenantId}:{caller.UserId}";
    }

    private sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = dataSource.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (NpgsqlException exception)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is not reachable.", exception);
            }
        }
    }
}

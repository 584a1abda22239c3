namespace Callern.Platform.Infrastructure;

/// <summary>
/// Lets a school's web pages on other origins call the REST API and open the hub from a browser
/// (the TypeScript SDK does both with a bearer token). Only the origins listed in
/// <c>Callern:Cors:AllowedOrigins</c>; none by default. Credentials are allowed because the
/// SignalR browser client sends its negotiate request with them.
/// </summary>
public static class Cors
{
    public static IServiceCollection AddCallernCors(this IServiceCollection services, IConfiguration configuration) =>
        services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
            .WithOrigins(configuration.GetSection("Callern:Cors:AllowedOrigins").Get<string[]>() ?? [])
            .AllowAnyHeader()
            .AllowAnyMethod()
            .AllowCredentials()
            .WithExposedHeaders("Content-Disposition", "Idempotent-Replayed", "Retry-After")));
}

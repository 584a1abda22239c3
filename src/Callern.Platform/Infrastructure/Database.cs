using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

public static class Database
{
    /// <summary>
    /// One <see cref="NpgsqlDataSource"/> for the process. The connection string comes from
    /// <c>ConnectionStrings:Callern</c> (set by ./run.sh, or CALLERN_DB).
    /// </summary>
    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        services.AddSingleton(_ =>
        {
            var connectionString = configuration.GetConnectionString("Callern")
                ?? throw new InvalidOperationException("ConnectionStrings:Callern is not set.");
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            // Every statement is a constant with parameters, so prepared plans are reused on each
            // connection: about a third less PostgreSQL CPU per wallet hold and settlement
            // (docs/performance.md). An explicit Max Auto Prepare (0 behind PgBouncer in
            // transaction mode) wins.
            if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
            {
                builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            }
            return builder.Build();
        });
        services.AddSingleton<MigrationRunner>();
        return services;
    }

    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        var runner = app.Services.GetRequiredService<MigrationRunner>();
        await runner.RunAsync(app.Lifetime.ApplicationStopping);
    }
}

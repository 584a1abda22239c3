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
            return new NpgsqlDataSourceBuilder(connectionString).Build();
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

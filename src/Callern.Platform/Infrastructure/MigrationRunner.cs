using System.Reflection;
using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// Applies the embedded, ordered SQL files under Infrastructure/Migrations once each.
/// A transaction-scoped advisory lock serialises nodes that start together; the
/// schema_migrations table records what ran. See docs/database.md for why not a library.
/// </summary>
public sealed class MigrationRunner(NpgsqlDataSource dataSource, ILogger<MigrationRunner> logger)
{
    // Any constant shared by every node; "Callern" in ASCII.
    private const long LockKey = 0x43616c6c65726e;

    public static IReadOnlyList<(string Name, string Sql)> LoadMigrations()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        const string prefix = "Callern.Platform.Infrastructure.Migrations.";
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(name => (name[prefix.Length..^4], Read(assembly, name)))
            .ToList();
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@LockKey)", new { LockKey }, transaction);
        await connection.ExecuteAsync(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now())
            """, transaction: transaction);
        var applied = (await connection.QueryRowsAsync<string>("SELECT name FROM schema_migrations", transaction: transaction)).ToHashSet();
        var count = 0;
        foreach (var (name, sql) in LoadMigrations().Where(m => !applied.Contains(m.Name)))
        {
            await connection.ExecuteAsync(sql, transaction: transaction);
            await connection.ExecuteAsync("INSERT INTO schema_migrations (name) VALUES (@name)", new { name }, transaction);
            logger.LogInformation("Applied migration {Migration}", name);
            count++;
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

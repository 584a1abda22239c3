using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Callern.Platform.Tests.Infrastructure;

public sealed class MigrationTests : IDisposable
{
    private readonly TestDatabase _database = new();

    [Fact]
    public async Task Migrations_run_twice_apply_each_file_once()
    {
        await using var dataSource = _database.CreateDataSource();
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);

        var first = await runner.RunAsync(CancellationToken.None);
        var second = await runner.RunAsync(CancellationToken.None);

        Assert.Equal(MigrationRunner.LoadMigrations().Count, first);
        Assert.Equal(0, second);
    }

    [Fact]
    public async Task Two_nodes_starting_together_apply_each_migration_once()
    {
        await using var one = _database.CreateDataSource();
        await using var two = _database.CreateDataSource();

        var applied = await Task.WhenAll(
            new MigrationRunner(one, NullLogger<MigrationRunner>.Instance).RunAsync(CancellationToken.None),
            new MigrationRunner(two, NullLogger<MigrationRunner>.Instance).RunAsync(CancellationToken.None));

        var expected = MigrationRunner.LoadMigrations().Select(m => m.Name).ToList();
        Assert.Equal(expected.Count, applied.Sum());
        await using var connection = await one.OpenConnectionAsync();
        Assert.Equal(expected, (await connection.QueryAsync<string>("SELECT name FROM schema_migrations ORDER BY name")).ToList());
    }

    public void Dispose() => _database.Dispose();
}

using Npgsql;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A fresh database on the real PostgreSQL that ./test.sh started (CALLERN_TEST_DB holds the
/// server's connection string). Every test class gets its own, dropped at the end.
/// </summary>
public sealed class TestDatabase : IDisposable
{
    public TestDatabase()
    {
        var server = Environment.GetEnvironmentVariable("CALLERN_TEST_DB")
            ?? throw new InvalidOperationException("CALLERN_TEST_DB is not set: run the tests with ./test.sh, which starts PostgreSQL.");
        Name = "callern_test_" + Guid.NewGuid().ToString("N")[..16];
        ServerConnectionString = server;
        using var connection = new NpgsqlConnection(server);
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE {Name}", connection);
        command.ExecuteNonQuery();
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = Name }.ConnectionString;
    }

    public string Name { get; }
    public string ServerConnectionString { get; }
    public string ConnectionString { get; }

    public NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(ConnectionString);

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        using var connection = new NpgsqlConnection(ServerConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
        command.ExecuteNonQuery();
    }
}

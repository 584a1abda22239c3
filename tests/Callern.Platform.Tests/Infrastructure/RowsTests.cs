using Callern.Platform.Infrastructure;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>The platform's row readers answer as Dapper's async queries did, on a real PostgreSQL.</summary>
public sealed class RowsTests : IDisposable
{
    private readonly TestDatabase _database = new();

    private sealed record Item(int Id, string Name, DateTime? DoneAt);

    [Fact]
    public async Task Rows_map_to_records_tuples_and_single_values_in_order()
    {
        await using var dataSource = _database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();

        var items = await connection.QueryRowsAsync<Item>(
            "SELECT g AS id, 'item ' || g AS name, CASE WHEN g = 2 THEN timestamptz '2026-01-02 03:04:05Z' END AS doneat FROM generate_series(1, @count) g",
            new { count = 3 });
        var tuples = await connection.QueryRowsAsync<(int Id, string? Name)>("SELECT 1, 'one' UNION ALL SELECT 2, NULL ORDER BY 1");
        // count(*) is a bigint in PostgreSQL; an int is asked for, as Dapper converts it.
        var counts = await connection.QueryRowsAsync<int>("SELECT count(*) FROM generate_series(1, 7)");

        Assert.Equal(["item 1", "item 2", "item 3"], items.Select(i => i.Name));
        Assert.Equal([null, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), null], items.Select(i => i.DoneAt?.ToUniversalTime()));
        Assert.Equal([(1, "one"), (2, null)], tuples);
        Assert.Equal([7], counts);
    }

    [Fact]
    public async Task A_single_row_query_refuses_none_or_several_and_the_default_one_answers_none_with_the_default()
    {
        await using var dataSource = _database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();

        Assert.Equal(42L, await connection.QuerySingleRowAsync<long>("SELECT 42::bigint"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.QuerySingleRowAsync<long>("SELECT 1 WHERE false"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.QuerySingleRowAsync<long>("SELECT generate_series(1, 2)"));
        Assert.Null(await connection.QuerySingleRowOrDefaultAsync<Guid?>("SELECT gen_random_uuid() WHERE false"));
        Assert.Null(await connection.QuerySingleRowOrDefaultAsync<string>("SELECT NULL::text"));
        Assert.Equal(default, await connection.QuerySingleRowOrDefaultAsync<(int A, string B)>("SELECT 1, 'b' WHERE false"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.QuerySingleRowOrDefaultAsync<int?>("SELECT generate_series(1, 2)"));
    }

    [Fact]
    public async Task Result_sets_of_one_round_trip_are_read_in_order_with_the_transaction()
    {
        await using var dataSource = _database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        await using (var results = await connection.QueryResultsAsync(
            "CREATE TEMP TABLE notes (id int, body text); INSERT INTO notes VALUES (1, 'a'), (2, 'b') RETURNING id; SELECT body FROM notes WHERE id > @above ORDER BY id; SELECT 1 WHERE false;",
            new { above = 5 }, transaction))
        {
            Assert.Equal([1, 2], await results.ReadAsync<int>());
            Assert.Empty(await results.ReadAsync<string>());
            Assert.Null(await results.ReadSingleOrDefaultAsync<int?>());
            await Assert.ThrowsAsync<InvalidOperationException>(() => results.ReadAsync<int>());
        }
        Assert.Equal(["b"], await connection.QueryRowsAsync<string>("SELECT body FROM notes WHERE id = 2", transaction: transaction));
    }

    [Fact]
    public async Task A_result_far_larger_than_the_read_buffer_arrives_whole()
    {
        // The rows Npgsql buffers one by one: 5,000 of them and one of 200 KB, against an 8 KB buffer.
        await using var dataSource = _database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();

        var rows = await connection.QueryRowsAsync<(int Id, string Text)>(
            "SELECT g, repeat(md5(g::text), CASE WHEN g = 2500 THEN 6400 ELSE 8 END) FROM generate_series(1, 5000) g ORDER BY g");

        Assert.Equal(Enumerable.Range(1, 5000), rows.Select(r => r.Id));
        Assert.Equal(204_800, rows[2499].Text.Length);
        Assert.All(rows.Where(r => r.Id != 2500), r => Assert.Equal(256, r.Text.Length));
    }

    public void Dispose() => _database.Dispose();
}

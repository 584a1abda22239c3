using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Callern.Platform.Tests.Hardening;

/// <summary>The inputs issue 18 (and the fuzzer since) found answering 500, and the lenient JSON it found accepted: each now a 400 problem that changes nothing.</summary>
public sealed class ReportedInputTests(FuzzWorld world) : IClassFixture<FuzzWorld>
{
    [Theory]
    [InlineData("admin", "GET", "/v1/students?cursor=AAAA", null)]
    [InlineData("admin", "GET", "/v1/teachers?cursor=AAAA", null)]
    [InlineData("admin", "GET", "/v1/presence/teachers?cursor=AAAA", null)]
    [InlineData("admin", "POST", "/v1/students/s/wallet/adjustments", """{"seconds": -9223372036854775808, "reason": "x"}""")]
    [InlineData("admin", "POST", "/v1/students/s/wallet/adjustments", """{"seconds": "60", "reason": "x"}""")]
    [InlineData("admin", "POST", "/v1/students/s/wallet/adjustments", """{"seconds": 60, "reason": "x", "extra": true}""")]
    [InlineData("admin", "POST", "/v1/students/s/wallet/adjustments", """{"seconds": 60, "reason": "a\u0000b"}""")]
    [InlineData("admin", "POST", "/v1/students/s/wallet/purchases", """{"packageId": "00000000-0000-0000-0000-000000000001", "paymentReference": "p\u0000"}""")]
    [InlineData("student", "PUT", "/v1/me/blocks/t", """{"reason": "\u0000"}""")]
    [InlineData("student", "POST", "/v1/calls/{call}/rating", """{"stars": 5, "comment": "\u0000"}""")]
    [InlineData("operator", "POST", "/v1/tenants", """{"name": "a\u0000"}""")]
    [InlineData("admin", "GET", "/v1/students?targetLanguage=%00", null)]
    [InlineData("admin", "GET", "/v1/calls?state=-1", null)]
    [InlineData("student", "GET", "/v1/calls?state=7", null)]
    public async Task Is_a_400_problem_and_changes_nothing(string role, string method, string path, string? json)
    {
        var before = await world.SnapshotAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{call}", world.CallId.ToString(), StringComparison.Ordinal));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        }
        var response = await world.Roles[role].SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).TryGetProperty("errors", out _));
        Assert.Equal("", (await world.SnapshotAsync()).DifferencesFrom(before));
    }

    [Fact]
    public async Task A_truncated_multipart_upload_is_a_400_and_stores_nothing()
    {
        var before = await world.SnapshotAsync();
        var body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.pdf\"\r\n\r\n%PDF-1.7\nabc";
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");
        var response = await world.Roles["student"].PostAsync($"/v1/calls/{world.CallId}/files", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("", (await world.SnapshotAsync()).DifferencesFrom(before));
    }
}

using Callern.Platform.Infrastructure;

namespace Callern.Platform.Tests.Infrastructure;

public sealed class OpenApiDocumentTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public void Committed_openapi_json_matches_what_the_code_produces()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Callern.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var committed = File.ReadAllText(Path.Combine(root.FullName, "docs", "openapi.json"));

        var produced = OpenApi.Document(app.Services);

        Assert.True(committed == produced,
            "docs/openapi.json differs from the code: run `dotnet build src/Callern.Platform` and commit docs/openapi.json (and regenerate the SDKs).");
    }
}

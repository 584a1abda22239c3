using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// The OpenAPI 3.0 document (Swashbuckle): served at /swagger/v1/swagger.json with Swagger UI at
/// /docs, and written to docs/openapi.json by the build, from which both SDKs are generated.
/// </summary>
public static class OpenApi
{
    /// <summary>The document as OpenAPI 3.0 JSON (NSwag reads 3.0, not 3.1).</summary>
    public static string Document(IServiceProvider services)
    {
        var document = services.GetRequiredService<ISwaggerProvider>().GetSwagger("v1");
        using var writer = new StringWriter();
        document.SerializeAsV3(new OpenApiJsonWriter(writer));
        return writer.ToString().ReplaceLineEndings("\n") + "\n";
    }

    public static IServiceCollection AddCallernOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "Callern API",
                Version = "v1",
                Description = "On-demand 1:1 video tutoring: tenants, people, wallets, matching and calls. Errors are RFC 9457 problem details.",
            });
            o.SupportNonNullableReferenceTypes();
            o.NonNullableReferenceTypesAsRequired();
            o.AddSecurityDefinition("accessToken", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "An access token (JWT HS256, kid = API key id), or the operator key for /v1/tenants.",
            });
            o.AddSecurityDefinition("apiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "basic",
                Description = "API key id and secret as HTTP Basic, for POST /v1/tokens only.",
            });
            o.ParameterFilter<RequiredAttributeFilter>();
            o.OperationFilter<InlineFormBodyFilter>();
            o.DocumentFilter<HubMessagesFilter>();
            // Prices are exact decimals; "format: decimal" makes the generated C# client use decimal, not double.
            o.MapType<decimal>(() => new OpenApiSchema { Type = JsonSchemaType.Number, Format = "decimal" });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("accessToken", document)] = [],
            });
        });
        return services;
    }

    /// <summary>
    /// A header such as Idempotency-Key is bound as <c>string?</c> so the endpoint can answer a
    /// missing one with a field error of its own; <c>[Required]</c> still documents it as required.
    /// </summary>
    private sealed class RequiredAttributeFilter : IParameterFilter
    {
        public void Apply(IOpenApiParameter parameter, ParameterFilterContext context)
        {
            if (parameter is OpenApiParameter concrete
                && context.ParameterInfo?.GetCustomAttributes(typeof(System.ComponentModel.DataAnnotations.RequiredAttribute), false).Length > 0)
            {
                concrete.Required = true;
            }
        }
    }

    /// <summary>
    /// Writes a multipart form body's schema inline instead of as a reference: NSwag's TypeScript
    /// generator declares its <c>FileParameter</c> type only for inline form schemas, and the
    /// generated client does not compile without it.
    /// </summary>
    private sealed class InlineFormBodyFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (operation.RequestBody?.Content is { } content
                && content.TryGetValue("multipart/form-data", out var form)
                && form.Schema is OpenApiSchemaReference reference
                && reference.Reference.Id is { } id
                && context.SchemaRepository.Schemas.TryGetValue(id, out var schema))
            {
                form.Schema = schema;
            }
        }
    }

    /// <summary>
    /// Adds the hub's messages (the arguments and answers of <see cref="Signaling.CallsHub"/>'s
    /// methods and the events of <see cref="Signaling.ICallernClient"/>) to the document's
    /// components, so both SDKs generate them from here instead of restating them by hand.
    /// </summary>
    private sealed class HubMessagesFilter : IDocumentFilter
    {
        public void Apply(OpenApiDocument document, DocumentFilterContext context)
        {
            var methods = typeof(Signaling.CallsHub).GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly)
                .Concat(typeof(Signaling.ICallernClient).GetMethods());
            var types = methods
                .SelectMany(m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType))
                .Select(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Task<>) ? t.GetGenericArguments()[0] : t)
                .Where(t => t.Namespace?.StartsWith("Callern.Platform", StringComparison.Ordinal) == true)
                .Distinct()
                .OrderBy(t => t.Name, StringComparer.Ordinal);
            foreach (var type in types)
            {
                context.SchemaGenerator.GenerateSchema(type, context.SchemaRepository);
            }
        }
    }

    private const string WriteFlag = "--write-openapi";

    /// <summary>
    /// <c>--write-openapi &lt;path&gt;</c>: the build's way to write docs/openapi.json. The app starts
    /// with a server that listens nowhere and without the project's background services, so
    /// neither a port nor a database is needed.
    /// </summary>
    public static void UseDocumentOnlyModeIfAsked(this WebApplicationBuilder builder, string[] args)
    {
        if (!args.Contains(WriteFlag))
        {
            return;
        }
        builder.Services.AddSingleton<IServer, NoServer>();
        var own = builder.Services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.Assembly == typeof(OpenApi).Assembly).ToList();
        own.ForEach(d => builder.Services.Remove(d));
    }

    public static async Task<bool> WriteDocumentIfAskedAsync(WebApplication app, string[] args)
    {
        var index = Array.IndexOf(args, WriteFlag);
        if (index < 0 || index + 1 >= args.Length)
        {
            return false;
        }
        await app.StartAsync();
        await File.WriteAllTextAsync(args[index + 1], Document(app.Services));
        await app.StopAsync();
        return true;
    }

    private sealed class NoServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }

    public static WebApplication UseCallernOpenApi(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "docs";
            o.SwaggerEndpoint("/swagger/v1/swagger.json", "Callern API v1");
            o.DocumentTitle = "Callern API";
        });
        return app;
    }
}
